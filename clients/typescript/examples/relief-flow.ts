// The relief flow as a shelter's and a donor's backends run it: the municipality opens a
// disaster, keeps the shelter's contact in the vault and registers the shelter; an operator
// posts a need, a donor pledges, the shelter gives the go-ahead, the donor prints the label and
// ships, the shelter scans the label on arrival.
//
//   node dist/examples/relief-flow.js 127.0.0.1:PORT path/to/keys/hachioji-admin-1.key
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { GovernanceCallSchema, RoleKind } from "../gen/yui/v1/governance_pb.js";
import { PersonalDataPurpose } from "../gen/yui/v1/personal_data_pb.js";
import { Priority, ReliefCallSchema, type ReliefEvent } from "../gen/yui/v1/relief_pb.js";
import { connect, keyFromFile, SigningKey, type Committed } from "../src/node.js";

type Call = MessageInitShape<typeof ReliefCallSchema>["call"];
const relief = (call: Call) => create(ReliefCallSchema, { call });

function first<K extends ReliefEvent["kind"]["case"]>(c: Committed, kind: K) {
  for (const e of c.receipt.events) {
    if (e.kind.case === "relief" && e.kind.value.kind.case === kind) {
      return e.kind.value.kind.value as Extract<ReliefEvent["kind"], { case: K }>["value"];
    }
  }
  throw new Error(`no ${kind} event in the receipt`);
}

const grant = (account: SigningKey, kind: RoleKind, scope = "") =>
  create(GovernanceCallSchema, { call: { case: "grantRole", value: { account: account.publicKey, role: { kind, scope } } } });

export async function run(target: string, adminKeyFile: string) {
  const admin = await keyFromFile(adminKeyFile);
  const operator = SigningKey.generate();
  const donor = SigningKey.generate();
  const tag = Math.random().toString(16).slice(2, 10);
  const disaster = `d-${tag}`;
  const shelter = `shelter-${tag}`;
  const c = connect(target, { key: admin });

  await c.submit(relief({ case: "openDisaster", value: { disasterId: disaster, name: "Typhoon No. 10" } }));
  // The contact goes to the vault; the ledger keeps only its reference.
  const put = await c.personalData.put(
    { purpose: PersonalDataPurpose.SHELTER_CONTACT, fields: [{ name: "phone", value: "042-000-0000" }] },
    c.pd("Put"),
  );
  await c.submit(
    relief({
      case: "registerShelter",
      value: { shelterId: shelter, name: "Minamino Elementary School gym", area: "Minamino", contact: { vaultId: put.id, commitment: put.commitment } },
    }),
  );
  await c.submit(grant(operator, RoleKind.ROLE_SHELTER_OPERATOR, shelter));
  await c.submit(grant(donor, RoleKind.ROLE_DONOR));

  const need = first(
    await c.submit(
      relief({
        case: "postNeed",
        value: { disasterId: disaster, shelterId: shelter, itemId: "food", quantity: 100n, details: "ready-to-eat meals, two days", priority: Priority.HIGH },
      }),
      { key: operator },
    ),
    "needChanged",
  );
  const commitment = first(await c.submit(relief({ case: "pledge", value: { needId: need.needId, quantity: 60n } }), { key: donor }), "commitmentChanged");
  const shipment = first(
    await c.submit(relief({ case: "approve", value: { commitmentId: commitment.commitmentId } }), { key: operator }),
    "shipmentChanged",
  ).shipment!;
  const label = await c.relief.newShipmentLabel({ shipmentId: shipment.shipmentId });
  await c.submit(relief({ case: "ship", value: { shipmentId: shipment.shipmentId, tokenCommitment: label.tokenCommitment } }), { key: donor });
  const received = await c.submit(relief({ case: "receive", value: { shipmentId: shipment.shipmentId, token: label.token } }), { key: operator });
  return { needId: need.needId, final: first(received, "shipmentChanged").shipment!, receivedTx: received.txId, labelPng: label.qrPng };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop()!)) {
  const out = await run(process.argv[2], process.argv[3]);
  console.log(`need ${out.needId}: shipment ${out.final.shipmentId} received (${out.final.quantity} of it)`);
}
