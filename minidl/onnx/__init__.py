"""ONNX: export minidl models (`md.onnx.export`), run ONNX models with minidl's ops
(`md.onnx.load`), and count them (`md.summary(onnx_model)`). Needs the `onnx` package
(`pip install 'minidl[onnx]'`); `import minidl` does not import it."""
from .export import ExportError, export
from .load import OnnxModule, UnsupportedOperators, load

__all__ = ["ExportError", "OnnxModule", "UnsupportedOperators", "export", "load"]
