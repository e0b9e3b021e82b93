"""RVM exported to ONNX and run on the CPU by ONNX Runtime (:mod:`.onnxruntime`) or OpenVINO
(:mod:`.openvino`): the export and its cache (:mod:`.export`), what both runtimes share (:mod:`.graph`)
and the full-resolution step after the graph (:mod:`.upsampling`). Which runtime runs is chosen in
:mod:`livebg.matting.backend`, which nothing here imports."""
