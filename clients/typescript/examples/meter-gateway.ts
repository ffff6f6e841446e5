// An eco meter gateway: the municipality sets up a program, a participant and a home solar
// device; the gateway (ROLE_METER) signs a batch of monthly readings and submits them in one
// `SubmitTransactions` call, then waits for each receipt.
//
//   node dist/examples/meter-gateway.js 127.0.0.1:PORT path/to/keys/hachioji-admin-1.key
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { DeviceKind, EcoCallSchema, type EcoEvent } from "../gen/yui/v1/eco_pb.js";
import { GovernanceCallSchema, RoleKind } from "../gen/yui/v1/governance_pb.js";
import { PersonalDataPurpose } from "../gen/yui/v1/personal_data_pb.js";
import { connect, keyFromFile, SigningKey, RejectedError, type Committed } from "../src/node.js";

const eco = (call: MessageInitShape<typeof EcoCallSchema>["call"]) => create(EcoCallSchema, { call });
const gov = (call: MessageInitShape<typeof GovernanceCallSchema>["call"]) => create(GovernanceCallSchema, { call });

function ecoEvent<K extends EcoEvent["kind"]["case"]>(c: Committed, kind: K) {
  for (const e of c.receipt.events) {
    if (e.kind.case === "eco" && e.kind.value.kind.case === kind) return e.kind.value.kind.value as Extract<EcoEvent["kind"], { case: K }>["value"];
  }
  throw new Error(`no ${kind} event in the receipt`);
}

/** Midnight JST of the first day of `month` (1-12) of `year`, ms. */
const jst = (year: number, month: number) => BigInt(Date.UTC(year, month - 1, 1) - 9 * 3_600_000);

export async function run(target: string, adminKeyFile: string, months = 6) {
  const admin = await keyFromFile(adminKeyFile);
  const resident = SigningKey.generate();
  const gateway = SigningKey.generate();
  const c = connect(target, { key: admin });
  const tag = Math.random().toString(16).slice(2, 8);
  for (const [k, kind] of [
    [resident, RoleKind.ROLE_RESIDENT],
    [gateway, RoleKind.ROLE_METER],
  ] as const) {
    await c.submit(gov({ case: "grantRole", value: { account: k.publicKey, role: { kind } } }));
  }
  await c.submit(gov({ case: "setParameter", value: { key: "eco.grid_g_per_mwh.fy2026", value: 438_000n } }));
  await c.submit(eco({ case: "createProgram", value: { programId: `solar-${tag}`, name: "Home solar program", pointsPerKg: 1n, pointsExpiryDays: 730n } }));
  const person = await c.personalData.put(
    { purpose: PersonalDataPurpose.PARTICIPANT_IDENTITY, fields: [{ name: "name", value: "Participant Example" }] },
    c.pd("Put"),
  );
  const participant = ecoEvent(
    await c.submit(
      eco({
        case: "registerParticipant",
        value: { programId: `solar-${tag}`, account: resident.publicKey, person: { vaultId: person.id, commitment: person.commitment } },
      }),
    ),
    "participantRegistered",
  ).participantId;
  const device = ecoEvent(
    await c.submit(
      eco({
        case: "registerDevice",
        // Onboarded with the monitoring it already had: its readings count from 1 April 2026.
        value: {
          participantId: participant,
          kind: DeviceKind.SOLAR,
          identityHash: crypto.getRandomValues(new Uint8Array(32)),
          monitoredFromMs: jst(2026, 4),
        },
      }),
    ),
    "deviceRegistered",
  ).device!.deviceId;

  // The gateway: one signed reading per month (FY2026, April on), all in one call.
  const readings = [];
  for (let i = 0; i < months; i++) {
    const m = 4 + i;
    readings.push(
      await c.sign(
        eco({ case: "submitReading", value: { deviceId: device, periodStartMs: jst(2026, m), periodEndMs: jst(2026, m + 1), electricityWh: 371_000n } }),
        { key: gateway },
      ),
    );
  }
  const results = await c.submitMany(readings);
  const receipts: Committed[] = [];
  for (const r of results) {
    if (r instanceof RejectedError) throw r;
    receipts.push(await c.wait(r));
  }
  const grams = receipts.map((r) => ecoEvent(r, "reductionRecorded").reduction!);
  return { device, participant, receipts, reductions: grams };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop()!)) {
  const out = await run(process.argv[2], process.argv[3]);
  console.log(`device ${out.device}: ${out.receipts.length} readings committed`);
}
