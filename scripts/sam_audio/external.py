"""External data for ONNX graphs too large for one protobuf (2 GB).

`torch.onnx.export` writes a graph over 2 GB with one external file per
initializer (named after the tensor) beside it. `finish_graph` re-saves any
graph whose initializers exceed `EXTERNAL_DATA_BYTES` (1.5 GB, well under
the limit, since the graph itself also counts) with all weights in one
`<name>.onnx.data` file, removes the stray per-tensor files, and keeps
smaller graphs in one file. `data_files` lists what a graph references, for
the manifest's `data` (checked by resonode's `SamAudio::load`; ONNX Runtime
reads the data from beside the graph).
"""
from pathlib import Path
from typing import List, Optional

EXTERNAL_DATA_BYTES = 1_500_000_000


def _locations(model) -> List[str]:
    from onnx import TensorProto

    out = []
    for init in model.graph.initializer:
        if init.data_location == TensorProto.EXTERNAL:
            for e in init.external_data:
                if e.key == "location" and e.value not in out:
                    out.append(e.value)
    return out


def _initializer_bytes(model) -> int:
    from onnx import numpy_helper

    total = 0
    for init in model.graph.initializer:
        total += len(init.raw_data) if init.raw_data else numpy_helper.to_array(init).nbytes
    return total


def data_files(path) -> List[str]:
    """The external-data files `path` references (none for a self-contained graph)."""
    import onnx

    return _locations(onnx.load(str(path), load_external_data=False))


def finish_graph(path, threshold: Optional[int] = None, force: bool = False) -> Optional[str]:
    """Re-saves the graph at `path` with its initializers in one
    `<name>.onnx.data` file when they hold more than `threshold` bytes
    (default `EXTERNAL_DATA_BYTES`, read at call time) (or
    when `force`), else as one self-contained file; removes per-tensor files
    a previous save left. Returns the data file's name, or None."""
    import onnx
    from onnx.external_data_helper import load_external_data_for_model

    path = Path(path)
    if threshold is None:
        threshold = EXTERNAL_DATA_BYTES
    model = onnx.load(str(path), load_external_data=False)
    before = _locations(model)
    if before:
        load_external_data_for_model(model, str(path.parent))
    data_name = path.name + ".data"
    external = force or _initializer_bytes(model) > threshold
    if external:
        onnx.save_model(
            model,
            str(path),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=data_name,
            size_threshold=1024,
            convert_attribute=False,
        )
    elif before:
        onnx.save_model(model, str(path))
    if external:
        (path.parent / data_name).chmod(0o644)  # onnx creates it owner-only
    keep = {data_name} if external else set()
    stale = set(before) | ({data_name} if not external else set())
    for name in stale - keep:
        f = path.parent / name
        if f.is_file() and f.resolve().parent == path.parent.resolve():
            f.unlink()
    after = data_files(path)
    if after != ([data_name] if external else []):
        raise RuntimeError(f"{path.name}: external data is {after}, expected {[data_name] if external else []}")
    return data_name if external else None
