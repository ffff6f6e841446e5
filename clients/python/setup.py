"""Build hook: generate the `yui.v1` protobuf and gRPC modules from the repository's .proto
files with grpcio-tools (a build requirement), so no generated or hand-written stub is kept in
the tree. The proto directory is `../../proto` in a checkout, or YUI_PROTO_DIR."""

import os
import pathlib

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = pathlib.Path(__file__).resolve().parent


def generate(out: pathlib.Path) -> None:
    import grpc_tools
    from grpc_tools import protoc

    proto_dir = pathlib.Path(os.environ.get("YUI_PROTO_DIR", HERE.parent.parent / "proto"))
    files = sorted(str(p.relative_to(proto_dir)) for p in (proto_dir / "yui" / "v1").glob("*.proto"))
    if not files:
        raise SystemExit(f"no .proto files under {proto_dir}/yui/v1 (set YUI_PROTO_DIR)")
    include = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    out.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"-I{proto_dir}",
        f"-I{include}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed on " + " ".join(files))
    for pkg in (out / "yui", out / "yui" / "v1"):
        (pkg / "__init__.py").touch()


class BuildPy(build_py):
    def run(self):
        generate(HERE)
        super().run()


if __name__ == "__main__":
    # Generate before setuptools looks for the packages.
    generate(HERE)
    setup(cmdclass={"build_py": BuildPy})
