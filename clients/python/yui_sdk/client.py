"""A Yui node over gRPC: submit a call and get its committed receipt (the shape of Fabric
Gateway's `submitTransaction`), follow the event stream from a stored checkpoint, and reach
every generated service stub."""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass

import grpc
from google.rpc import error_details_pb2, status_pb2
from yui.v1 import (
    common_pb2,
    eco_pb2_grpc,
    governance_pb2_grpc,
    ledger_pb2,
    ledger_pb2_grpc,
    personal_data_pb2_grpc,
    points_pb2_grpc,
    relief_pb2_grpc,
    tx_pb2,
    volunteer_pb2_grpc,
)

from . import auth, proof, tx, wire
from .ed25519 import SigningKey

#: `after` index that means "after every event of that block": with the tip's height it
#: starts the stream from now.
AFTER_BLOCK = 2**32 - 1


class YuiError(Exception):
    """Any error this SDK raises for a call that did not do what was asked."""


class RejectedError(YuiError):
    """The node refused the transaction before it reached a block: nothing changed.

    `code` is the gRPC status code (`grpc.StatusCode`), `message` the node's sentence, and
    `error_code` the contracts' stable code when they refused it (for example
    "relief.not_owner"; docs/api.md, "Error catalogue"), else ""."""

    def __init__(self, code, message: str, error_code: str = ""):
        super().__init__(f"{code.name}: {message}" + (f" ({error_code})" if error_code else ""))
        self.code = code
        self.message = message
        self.error_code = error_code


class TransactionFailed(YuiError):
    """The transaction was committed but its call failed: it is in the block (the history shows
    the attempt) and changed nothing. `error_code` is the receipt's stable code."""

    def __init__(self, committed: "Committed"):
        e = committed.receipt.error
        super().__init__(f"{e.code}: {e.message}")
        self.committed = committed
        self.error_code = e.code
        self.message = e.message


@dataclass
class Committed:
    """A committed transaction: its id, block height, position and receipt."""

    tx_id: bytes
    height: int
    index: int
    receipt: ledger_pb2.Receipt

    def events(self):
        return list(self.receipt.events)


def _error_code(e: grpc.RpcError) -> str:
    for k, v in (e.trailing_metadata() or ()):
        if k == "grpc-status-details-bin":
            st = status_pb2.Status()
            st.ParseFromString(v)
            for d in st.details:
                info = error_details_pb2.ErrorInfo()
                if d.Unpack(info) and info.domain == "yui":
                    return info.reason
    return ""


def _rejected(e: grpc.RpcError) -> RejectedError:
    return RejectedError(e.code(), e.details() or "", _error_code(e))


class MemoryCheckpointer:
    """Keeps the cursor of the last handled event in memory."""

    def __init__(self):
        self._cursor = None

    def load(self):
        return self._cursor

    def save(self, cursor: common_pb2.Cursor) -> None:
        self._cursor = common_pb2.Cursor(height=cursor.height, index=cursor.index)


class FileCheckpointer:
    """Keeps the cursor of the last handled event in a JSON file, replaced atomically (written
    to a temporary file, flushed, renamed), so a backend restarted at any moment resumes after
    the last event it finished handling: never losing one, repeating at most the one it was
    handling."""

    def __init__(self, path):
        self.path = os.fspath(path)

    def load(self):
        try:
            with open(self.path, encoding="utf-8") as f:
                d = json.load(f)
        except FileNotFoundError:
            return None
        return common_pb2.Cursor(height=int(d["height"]), index=int(d["index"]))

    def save(self, cursor: common_pb2.Cursor) -> None:
        d = os.path.dirname(os.path.abspath(self.path))
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".cursor-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"height": cursor.height, "index": cursor.index}, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


class Client:
    """One node's API. `target` is "host:port" (or "http://host:port"); pass `root_certificates`
    (the CA's PEM bytes) for a node that serves TLS. `key` signs transactions and PersonalData
    tokens; `chain_id` is read from the node when not given."""

    def __init__(self, target: str, key: SigningKey | None = None, *, chain_id: str | None = None, root_certificates: bytes | None = None):
        for prefix in ("http://", "https://"):
            if target.startswith(prefix):
                target = target[len(prefix) :]
        if root_certificates is not None:
            self.channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates))
        else:
            self.channel = grpc.insecure_channel(target)
        self.key = key
        self.ledger = ledger_pb2_grpc.LedgerStub(self.channel)
        self.governance = governance_pb2_grpc.GovernanceStub(self.channel)
        self.relief = relief_pb2_grpc.ReliefStub(self.channel)
        self.eco = eco_pb2_grpc.EcoStub(self.channel)
        self.points = points_pb2_grpc.PointsStub(self.channel)
        self.volunteer = volunteer_pb2_grpc.VolunteerStub(self.channel)
        self.personal_data = personal_data_pb2_grpc.PersonalDataStub(self.channel)
        self._chain_id = chain_id

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        self.channel.close()

    # --- reading -------------------------------------------------------------------------

    def chain_info(self) -> ledger_pb2.GetChainInfoResponse:
        return self.ledger.GetChainInfo(ledger_pb2.GetChainInfoRequest())

    @property
    def chain_id(self) -> str:
        if self._chain_id is None:
            self._chain_id = self.chain_info().chain_id
        return self._chain_id

    def validator_set(self) -> wire.ValidatorSet:
        """The set deciding the next height, as the node reports it. For checking a proof of an
        older block, use the set you trust for that height (from genesis and governance)."""
        return wire.ValidatorSet.from_chain_info(self.chain_info())

    def proof(self, tx_id: bytes | None = None, event: common_pb2.Cursor | None = None) -> ledger_pb2.InclusionProof:
        req = ledger_pb2.GetProofRequest(tx_id=tx_id) if event is None else ledger_pb2.GetProofRequest(event=event)
        return self.ledger.GetProof(req)

    # --- transactions --------------------------------------------------------------------

    def sign(self, call, *, expires_in: int = 100, key: SigningKey | None = None) -> tx_pb2.SignedTransaction:
        """`call` (a `ReliefCall`, `EcoCall`, `VolunteerCall`, `PointsCall` or
        `GovernanceCall`) signed by `key` (default: the client's), valid for `expires_in`
        blocks (at most the chain's `max_expiry_blocks`) from the node's height."""
        k = key or self.key
        if k is None:
            raise YuiError("no signing key: pass key= to Client or to this call")
        info = self.chain_info()
        ahead = max(1, min(expires_in, info.max_expiry_blocks or expires_in))
        return tx.sign(k, tx.body(k, self._chain_id or info.chain_id, info.height + ahead, call))

    def submit_signed(self, signed: tx_pb2.SignedTransaction, *, timeout: float = 30.0) -> Committed:
        """Submit a signed transaction and wait for its receipt. Raises `RejectedError` if the
        node refuses it, `TransactionFailed` if it committed with a failed call, and
        `TimeoutError` if it is not committed within `timeout` seconds (it may still be)."""
        try:
            resp = self.ledger.SubmitTransaction(ledger_pb2.SubmitTransactionRequest(transaction=signed), timeout=timeout)
        except grpc.RpcError as e:
            raise _rejected(e) from None
        return self.wait(resp.tx_id, timeout=timeout)

    def submit(self, call, *, key: SigningKey | None = None, expires_in: int = 100, timeout: float = 30.0) -> Committed:
        """Sign `call`, submit it, and return its committed, successful receipt."""
        return self.submit_signed(self.sign(call, key=key, expires_in=expires_in), timeout=timeout)

    def submit_many(self, signed: list, *, timeout: float = 30.0) -> list:
        """Submit up to 1,000 signed transactions in one call (`SubmitTransactions`); one
        result per transaction, in order: its id (bytes) or a `RejectedError`."""
        try:
            resp = self.ledger.SubmitTransactions(ledger_pb2.SubmitTransactionsRequest(transactions=signed), timeout=timeout)
        except grpc.RpcError as e:
            raise _rejected(e) from None
        out = []
        for r in resp.results:
            if r.code == 0:
                out.append(bytes(r.tx_id))
            else:
                code = next((c for c in grpc.StatusCode if c.value[0] == r.code), grpc.StatusCode.UNKNOWN)
                out.append(RejectedError(code, r.message, r.error_code))
        return out

    def wait(self, tx_id: bytes, *, timeout: float = 30.0, fail: bool = True) -> Committed:
        """Wait until `tx_id` is committed (polling `GetTransaction`). With `fail`, a committed
        transaction whose call failed raises `TransactionFailed`."""
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            r = self.ledger.GetTransaction(ledger_pb2.GetTransactionRequest(tx_id=tx_id), timeout=timeout)
            if r.status == ledger_pb2.TX_STATUS_COMMITTED:
                c = Committed(bytes(tx_id), r.height, r.index, r.receipt)
                if fail and not r.receipt.success:
                    raise TransactionFailed(c)
                return c
            if time.monotonic() >= deadline:
                state = "pending" if r.status == ledger_pb2.TX_STATUS_PENDING else "unknown to the node"
                raise TimeoutError(f"transaction {tx_id.hex()} not committed within {timeout} s (it is {state})")
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    # --- events --------------------------------------------------------------------------

    def events(self, *, after: common_pb2.Cursor | None = None, from_now: bool = False, timeout: float | None = None):
        """Committed events after `after` (from the chain's first event when None, or from now
        with `from_now`), then live as blocks commit. An iterator of `EventEnvelope`; cancel it
        with `.cancel()`."""
        if from_now:
            after = common_pb2.Cursor(height=self.chain_info().height, index=AFTER_BLOCK)
        req = ledger_pb2.SubscribeEventsRequest(after=after) if after is not None else ledger_pb2.SubscribeEventsRequest()
        return self.ledger.SubscribeEvents(req, timeout=timeout)

    def follow(self, handler, checkpointer, *, from_now_if_new: bool = False, limit: int | None = None, timeout: float | None = None) -> int:
        """Call `handler(envelope)` for each event after the checkpointer's cursor and save the
        cursor after each handled one, so a restart resumes where it stopped. Returns how many
        were handled; stops after `limit` events or when the stream ends (`timeout`)."""
        after = checkpointer.load()
        stream = self.events(after=after, from_now=after is None and from_now_if_new, timeout=timeout)
        n = 0
        try:
            for env in stream:
                handler(env)
                checkpointer.save(env.cursor)
                n += 1
                if limit is not None and n >= limit:
                    break
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                raise
        finally:
            stream.cancel()
        return n

    # --- personal data -------------------------------------------------------------------

    def pd_metadata(self, method: str, key: SigningKey | None = None) -> list:
        """Metadata for one PersonalData call (`method` as "Put", "Get", ...)."""
        k = key or self.key
        if k is None:
            raise YuiError("no signing key: pass key= to Client or to this call")
        return auth.metadata(k, method)

