"""A facility checks a volunteer's certificate: the municipality registers a volunteer (the
identity stays in the vault), the volunteer's app fetches the certificate QR payload, and the
facility checks it offline against the consortium's validator keys, then online for
revocation.

    python examples/certificate_check.py 127.0.0.1:PORT path/to/keys/hachioji-admin-1.key
"""

import sys

from yui.v1 import governance_pb2, personal_data_pb2, volunteer_pb2

from yui_sdk import Client, SigningKey, certificate


def run(target: str, admin_key_file: str) -> dict:
    admin = SigningKey.from_file(admin_key_file)
    resident = SigningKey.generate()
    with Client(target, admin) as c:
        c.submit(
            governance_pb2.GovernanceCall(
                grant_role=governance_pb2.GrantRole(
                    account=resident.public_key, role=governance_pb2.Role(kind=governance_pb2.ROLE_RESIDENT)
                )
            )
        )
        put = c.personal_data.Put(
            personal_data_pb2.PutPersonalDataRequest(
                purpose=personal_data_pb2.PERSONAL_DATA_PURPOSE_VOLUNTEER_IDENTITY,
                fields=[personal_data_pb2.PersonalField(name="name", value="Volunteer Example")],
            ),
            metadata=c.pd_metadata("Put"),
        )
        applied = c.submit(
            volunteer_pb2.VolunteerCall(
                apply_registration=volunteer_pb2.ApplyRegistration(
                    skills=["first-aid"], person_ref=volunteer_pb2.PersonRef(vault_id=put.id, commitment=put.commitment)
                )
            ),
            key=resident,
        )
        app_id = applied.events()[0].volunteer.registration_applied.application_id
        issued = c.submit(
            volunteer_pb2.VolunteerCall(approve_registration=volunteer_pb2.ApproveRegistration(application_id=app_id))
        )
        cert_id = issued.events()[0].volunteer.certificate_issued.certificate_id

        # The volunteer's phone shows this payload as a QR code.
        qr = c.volunteer.GetCertificateProof(volunteer_pb2.GetCertificateProofRequest(certificate_id=cert_id)).qr_text
        # The facility: offline, against the validator keys it trusts ...
        vset = c.validator_set()
        offline = certificate.verify_qr(qr, vset)
        # ... and online, for revocation.
        online = c.volunteer.VerifyCertificate(volunteer_pb2.VerifyCertificateRequest(qr_text=qr))
        # A forged payload is an answer, not an error.
        proof_bytes = certificate.proof_from_qr(qr)
        forged = proof_bytes[:-8] + bytes([proof_bytes[-8] ^ 1]) + proof_bytes[-7:]
        tampered = c.volunteer.VerifyCertificate(volunteer_pb2.VerifyCertificateRequest(proof=forged))
        return {
            "certificate_id": cert_id,
            "qr_text": qr,
            "offline": offline,
            "online": online,
            "tampered": tampered,
            "vset": vset,
        }


if __name__ == "__main__":
    out = run(sys.argv[1], sys.argv[2])
    print(f"certificate {out['certificate_id']}: offline valid, online valid={out['online'].valid}")
    print(f"a forged copy: valid={out['tampered'].valid} ({out['tampered'].reason_code}: {out['tampered'].reason})")
