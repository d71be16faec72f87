{
  "targets": [
    {
      "target_name": "rrkit",
      # Every .cc under native/ except stand-alone tools (fuzz targets, test mains), so that
      # adding a file needs no edit here.
      "sources": ["<!@(find native -name '*.cc' ! -path 'native/tools/*' | sort)"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      # -fno-crossjumping: the emu executor ends every handler with its own indirect jump
      # (one branch-predictor entry per opcode); GCC would otherwise merge those tails
      # into one shared, badly predicted jump. -fomit-frame-pointer (node-gyp asks for
      # frame pointers): the executor needs every register it can get for its hot locals.
      "cflags_cc": ["-std=c++20", "-fexceptions", "-O3", "-fno-crossjumping", "-fomit-frame-pointer",
                    "-Wall", "-Wextra", "-Werror", "-pthread"],
      "ldflags": ["-pthread"],
      # zlib (zlib1g-dev): log chunks are deflated (native/replay/chunk_codec.cc). Zydis
      # (libzydis-dev) decodes the instruction that stopped on a protected page
      # (native/kvm/access_decoder.cc).
      "libraries": ["-lz", "-lZydis"]
    }
  ]
}
