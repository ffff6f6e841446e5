"""Yui SDK for Python: build, sign and submit transactions and wait for their receipts, follow
events from a stored checkpoint, call the PersonalData service with its auth header, and
verify inclusion proofs and volunteer certificates offline under the chain's signature rule
(ZIP 215). The generated protobuf and gRPC modules are `yui.v1.*_pb2` / `*_pb2_grpc`.

    from yui_sdk import Client, SigningKey
    from yui.v1 import relief_pb2

    key = SigningKey.from_file("keys/hachioji-admin-1.key")
    with Client("127.0.0.1:50051", key) as c:
        receipt = c.submit(relief_pb2.ReliefCall(open_disaster=relief_pb2.OpenDisaster(
            disaster_id="d-2026-01", name="Typhoon No. 10")))
"""

from . import auth, certificate, notification, presence, proof, tx, wire
from .client import (
    Client,
    Committed,
    FileCheckpointer,
    MemoryCheckpointer,
    RejectedError,
    TransactionFailed,
    YuiError,
)
from .ed25519 import SigningKey
from .wire import ValidatorSet

__all__ = [
    "auth",
    "certificate",
    "notification",
    "presence",
    "proof",
    "tx",
    "wire",
    "Client",
    "Committed",
    "FileCheckpointer",
    "MemoryCheckpointer",
    "RejectedError",
    "TransactionFailed",
    "YuiError",
    "SigningKey",
    "ValidatorSet",
]
