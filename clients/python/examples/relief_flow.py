"""The relief flow as a shelter's and a donor's backends run it: the municipality opens a
disaster, keeps the shelter's contact in the vault and registers the shelter; a shelter
operator posts a need, a donor pledges, the shelter gives the go-ahead, the donor prints the
label and ships, the shelter scans the label on arrival.

    python examples/relief_flow.py 127.0.0.1:PORT path/to/keys/hachioji-admin-1.key
"""

import sys
import uuid

from yui.v1 import governance_pb2, personal_data_pb2, relief_pb2, volunteer_pb2

from yui_sdk import Client, SigningKey


def relief(**kw):
    return relief_pb2.ReliefCall(**kw)


def grant(account: SigningKey, kind, scope: str = ""):
    return governance_pb2.GovernanceCall(
        grant_role=governance_pb2.GrantRole(account=account.public_key, role=governance_pb2.Role(kind=kind, scope=scope))
    )


def first(committed, kind):
    """The first relief event of `kind` ("need_changed", ...) in a receipt."""
    for e in committed.events():
        if e.WhichOneof("kind") == "relief" and e.relief.WhichOneof("kind") == kind:
            return getattr(e.relief, kind)
    raise LookupError(f"no {kind} event in the receipt")


def run(target: str, admin_key_file: str) -> dict:
    admin = SigningKey.from_file(admin_key_file)
    operator, donor = SigningKey.generate(), SigningKey.generate()
    tag = uuid.uuid4().hex[:8]
    disaster, shelter = f"d-{tag}", f"shelter-{tag}"
    with Client(target, admin) as c:
        c.submit(relief(open_disaster=relief_pb2.OpenDisaster(disaster_id=disaster, name="Typhoon No. 10")))
        # The contact goes to the vault; the ledger keeps only its reference.
        put = c.personal_data.Put(
            personal_data_pb2.PutPersonalDataRequest(
                purpose=personal_data_pb2.PERSONAL_DATA_PURPOSE_SHELTER_CONTACT,
                fields=[personal_data_pb2.PersonalField(name="phone", value="042-000-0000")],
            ),
            metadata=c.pd_metadata("Put"),
        )
        c.submit(
            relief(
                register_shelter=relief_pb2.RegisterShelter(
                    shelter_id=shelter,
                    name="Minamino Elementary School gym",
                    area="Minamino",
                    contact=volunteer_pb2.PersonRef(vault_id=put.id, commitment=put.commitment),
                )
            )
        )
        c.submit(grant(operator, governance_pb2.ROLE_SHELTER_OPERATOR, shelter))
        c.submit(grant(donor, governance_pb2.ROLE_DONOR))

        need = first(
            c.submit(
                relief(
                    post_need=relief_pb2.PostNeed(
                        disaster_id=disaster, shelter_id=shelter, item_id="food", quantity=100,
                        details="ready-to-eat meals, two days", priority=relief_pb2.PRIORITY_HIGH,
                    )
                ),
                key=operator,
            ),
            "need_changed",
        )
        commitment = first(
            c.submit(relief(pledge=relief_pb2.Pledge(need_id=need.need_id, quantity=60)), key=donor), "commitment_changed"
        )
        shipment = first(
            c.submit(relief(approve=relief_pb2.ApproveShipment(commitment_id=commitment.commitment_id)), key=operator),
            "shipment_changed",
        ).shipment
        label = c.relief.NewShipmentLabel(relief_pb2.NewShipmentLabelRequest(shipment_id=shipment.shipment_id))
        c.submit(
            relief(ship=relief_pb2.MarkShipped(shipment_id=shipment.shipment_id, token_commitment=label.token_commitment)),
            key=donor,
        )
        received = c.submit(
            relief(receive=relief_pb2.ReceiveShipment(shipment_id=shipment.shipment_id, token=label.token)), key=operator
        )
        return {
            "need_id": need.need_id,
            "shipment_id": shipment.shipment_id,
            "final": first(received, "shipment_changed").shipment,
            "received_tx": received.tx_id,
            "label_png": label.qr_png,
        }


if __name__ == "__main__":
    out = run(sys.argv[1], sys.argv[2])
    print(f"need {out['need_id']}: shipment {out['shipment_id']} received in transaction {out['received_tx'].hex()}")
