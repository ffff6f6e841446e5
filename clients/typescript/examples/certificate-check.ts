// A facility checks a volunteer's certificate: the municipality registers a volunteer (the
// identity stays in the vault), the volunteer's app fetches the certificate's QR payload, and
// the facility checks it offline against the consortium's validator keys, then online for
// revocation.
//
//   node dist/examples/certificate-check.js 127.0.0.1:PORT path/to/keys/hachioji-admin-1.key
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { GovernanceCallSchema, RoleKind } from "../gen/yui/v1/governance_pb.js";
import { PersonalDataPurpose } from "../gen/yui/v1/personal_data_pb.js";
import { VolunteerCallSchema } from "../gen/yui/v1/volunteer_pb.js";
import { certificate, connect, keyFromFile, SigningKey } from "../src/node.js";

const vol = (call: MessageInitShape<typeof VolunteerCallSchema>["call"]) => create(VolunteerCallSchema, { call });

export async function run(target: string, adminKeyFile: string) {
  const admin = await keyFromFile(adminKeyFile);
  const resident = SigningKey.generate();
  const c = connect(target, { key: admin });
  await c.submit(
    create(GovernanceCallSchema, { call: { case: "grantRole", value: { account: resident.publicKey, role: { kind: RoleKind.ROLE_RESIDENT } } } }),
  );
  const put = await c.personalData.put(
    { purpose: PersonalDataPurpose.VOLUNTEER_IDENTITY, fields: [{ name: "name", value: "Volunteer Example" }] },
    c.pd("Put"),
  );
  const applied = await c.submit(
    vol({ case: "applyRegistration", value: { skills: ["first-aid"], personRef: { vaultId: put.id, commitment: put.commitment } } }),
    { key: resident },
  );
  const ev = applied.receipt.events[0].kind;
  if (ev.case !== "volunteer" || ev.value.kind.case !== "registrationApplied") throw new Error("no application event");
  const issued = await c.submit(vol({ case: "approveRegistration", value: { applicationId: ev.value.kind.value.applicationId } }));
  const ie = issued.receipt.events[0].kind;
  if (ie.case !== "volunteer" || ie.value.kind.case !== "certificateIssued") throw new Error("no issuance event");
  const certificateId = ie.value.kind.value.certificateId;

  // The volunteer's phone shows this payload as a QR code.
  const { qrText } = await c.volunteer.getCertificateProof({ certificateId });
  // The facility: offline, against the validator keys it trusts ...
  const set = await c.validatorSet();
  const offline = certificate.verifyQr(qrText, set);
  // ... and online, for revocation.
  const online = await c.volunteer.verifyCertificate({ qrText });
  // A forged copy is an answer, not an error.
  const bytes = certificate.proofFromQr(qrText);
  bytes[bytes.length - 8] ^= 1;
  const tampered = await c.volunteer.verifyCertificate({ proof: bytes });
  return { certificateId, qrText, offline, online, tampered, set };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop()!)) {
  const out = await run(process.argv[2], process.argv[3]);
  console.log(`certificate ${out.certificateId}: offline valid, online valid=${out.online.valid}`);
  console.log(`a forged copy: valid=${out.tampered.valid} (${out.tampered.reasonCode}: ${out.tampered.reason})`);
}
