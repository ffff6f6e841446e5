// What a resident-facing web app does in a browser, over gRPC-web from another origin than the
// node's: read the chain, sign and submit a call, wait for its receipt, prove it offline. The
// test (../browser.test.ts) serves this page, opens it in headless Chromium and reads the
// result the page writes into #result. Parameters come in the URL's fragment (test only).
import { create, toBinary } from "@bufbuild/protobuf";
import { InclusionProofSchema } from "../../gen/yui/v1/ledger_pb.js";
import { ReliefCallSchema } from "../../gen/yui/v1/relief_pb.js";
import { connectWeb } from "../../src/web.js";
import { proof, SigningKey, TransactionFailed, RejectedError } from "../../src/index.js";

async function main() {
  const params = new URLSearchParams(location.hash.slice(1));
  const key = SigningKey.fromKeyFileText(params.get("key")!);
  const c = connectWeb(params.get("node")!, { key });
  const info = await c.chainInfo();
  const id = `d-web-${Date.now()}`;
  const call = create(ReliefCallSchema, { call: { case: "openDisaster", value: { disasterId: id, name: "Flood" } } });
  const done = await c.submit(call);
  const p = await c.ledger.getProof({ target: { case: "txId", value: done.txId } });
  const proven = proof.verifyBytes(toBinary(InclusionProofSchema, p), await c.validatorSet());
  let again = "";
  try {
    await c.submit(call);
  } catch (e) {
    if (e instanceof TransactionFailed || e instanceof RejectedError) again = e.errorCode;
  }
  return { chainId: info.chainId, disaster: id, height: String(done.height), provenHeight: String(proven.height), again };
}

const out = document.getElementById("result")!;
main().then(
  (r) => (out.textContent = JSON.stringify({ ok: true, ...r })),
  (e) => (out.textContent = JSON.stringify({ ok: false, error: String(e) })),
);
