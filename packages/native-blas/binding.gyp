{
  "targets": [
    {
      "target_name": "rnnlab_blas",
      "sources": ["src/blas.c"],
      "include_dirs": ["<!@(node find-blas.cjs include)"],
      "cflags": ["-O3", "-std=c11"],
      "conditions": [
        ["OS=='mac'", {
          "libraries": ["-framework Accelerate"],
          "xcode_settings": { "OTHER_CFLAGS": ["-O2", "-DACCELERATE_NEW_LAPACK"] }
        }, {
          "libraries": ["<!@(node find-blas.cjs libs)"]
        }]
      ]
    }
  ]
}
