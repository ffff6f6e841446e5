"""An eco meter gateway: the municipality sets up a program, a participant and a home solar
device; the gateway (ROLE_METER) signs a batch of monthly readings and submits them in one
`SubmitTransactions` call, then waits for each receipt.

    python examples/meter_gateway.py 127.0.0.1:PORT path/to/keys/hachioji-admin-1.key
"""

import datetime
import os
import sys
import uuid

from yui.v1 import eco_pb2, governance_pb2, personal_data_pb2, volunteer_pb2

from yui_sdk import Client, RejectedError, SigningKey

JST = datetime.timezone(datetime.timedelta(hours=9))


def jst_month(year: int, month: int) -> int:
    """Midnight JST of the first day of the month, ms since the epoch."""
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return int(datetime.datetime(year, month, 1, tzinfo=JST).timestamp() * 1000)


def eco_event(committed, kind):
    for e in committed.events():
        if e.WhichOneof("kind") == "eco" and e.eco.WhichOneof("kind") == kind:
            return getattr(e.eco, kind)
    raise LookupError(f"no {kind} event in the receipt")


def run(target: str, admin_key_file: str, months: int = 6) -> dict:
    admin = SigningKey.from_file(admin_key_file)
    resident, gateway = SigningKey.generate(), SigningKey.generate()
    program = f"solar-{uuid.uuid4().hex[:6]}"
    with Client(target, admin) as c:
        for k, role in [(resident, governance_pb2.ROLE_RESIDENT), (gateway, governance_pb2.ROLE_METER)]:
            c.submit(
                governance_pb2.GovernanceCall(
                    grant_role=governance_pb2.GrantRole(account=k.public_key, role=governance_pb2.Role(kind=role))
                )
            )
        c.submit(
            governance_pb2.GovernanceCall(
                set_parameter=governance_pb2.SetParameter(key="eco.grid_g_per_mwh.fy2026", value=438_000)
            )
        )
        c.submit(
            eco_pb2.EcoCall(
                create_program=eco_pb2.CreateProgram(
                    program_id=program, name="Home solar program", points_per_kg=1, points_expiry_days=730
                )
            )
        )
        person = c.personal_data.Put(
            personal_data_pb2.PutPersonalDataRequest(
                purpose=personal_data_pb2.PERSONAL_DATA_PURPOSE_PARTICIPANT_IDENTITY,
                fields=[personal_data_pb2.PersonalField(name="name", value="Participant Example")],
            ),
            metadata=c.pd_metadata("Put"),
        )
        participant = eco_event(
            c.submit(
                eco_pb2.EcoCall(
                    register_participant=eco_pb2.RegisterParticipant(
                        program_id=program,
                        account=resident.public_key,
                        person=volunteer_pb2.PersonRef(vault_id=person.id, commitment=person.commitment),
                    )
                )
            ),
            "participant_registered",
        ).participant_id
        device = eco_event(
            c.submit(
                eco_pb2.EcoCall(
                    # Onboarded with the monitoring it already had: readings count from 1 April 2026.
                    register_device=eco_pb2.RegisterDevice(
                        participant_id=participant,
                        kind=eco_pb2.DEVICE_KIND_SOLAR,
                        identity_hash=os.urandom(32),
                        monitored_from_ms=jst_month(2026, 4),
                    )
                )
            ),
            "device_registered",
        ).device.device_id

        # The gateway: one signed reading per month of FY2026 from April, all in one call.
        readings = [
            c.sign(
                eco_pb2.EcoCall(
                    submit_reading=eco_pb2.SubmitReading(
                        device_id=device,
                        period_start_ms=jst_month(2026, 4 + i),
                        period_end_ms=jst_month(2026, 5 + i),
                        electricity_wh=371_000,
                    )
                ),
                key=gateway,
            )
            for i in range(months)
        ]
        committed = []
        for r in c.submit_many(readings):
            if isinstance(r, RejectedError):
                raise r
            committed.append(c.wait(r))
        return {
            "device": device,
            "receipts": committed,
            "reductions": [eco_event(x, "reduction_recorded").reduction for x in committed],
        }


if __name__ == "__main__":
    out = run(sys.argv[1], sys.argv[2])
    print(f"device {out['device']}: {len(out['receipts'])} readings committed")
