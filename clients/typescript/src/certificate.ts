/**
 * Volunteer certificates as a facility checks them offline: the QR payload `YUICERT1:` + base32
 * (no padding) of an event inclusion proof whose event is a successful `CertificateIssued`.
 * Whether it was revoked since is an online question (`Volunteer.VerifyCertificate`).
 */
import { base32nopad } from "@scure/base";
import type { CertificateIssued } from "../gen/yui/v1/volunteer_pb.js";
import * as proof from "./proof.js";
import type { ValidatorSet } from "./wire.js";

export const QR_PREFIX = "YUICERT1:";

export class CertificateError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "CertificateError";
  }
}

export interface ProvenCertificate {
  certificate: CertificateIssued;
  height: bigint;
  blockHash: Uint8Array;
}

export function qrText(proofBytes: Uint8Array): string {
  return QR_PREFIX + base32nopad.encode(proofBytes);
}

/** The proof bytes of a scanned payload (case and white space do not matter). */
export function proofFromQr(text: string): Uint8Array {
  const t = text.replace(/\s+/g, "").toUpperCase();
  if (!t.startsWith(QR_PREFIX)) {
    throw new CertificateError("not_a_certificate", `this is not a Yui volunteer certificate (it does not start with ${QR_PREFIX})`);
  }
  try {
    return base32nopad.decode(t.slice(QR_PREFIX.length));
  } catch {
    throw new CertificateError("damaged", "the certificate code is damaged (not valid base32)");
  }
}

export function verify(proofBytes: Uint8Array, set: ValidatorSet): ProvenCertificate {
  let v: proof.Proven;
  try {
    const p = proof.decode(proofBytes);
    if (!p.eventCursor) throw new CertificateError("no_event", "the proof does not name an event");
    v = proof.verify(p, set);
  } catch (e) {
    if (e instanceof proof.ProofError) throw new CertificateError(e.code, e.message);
    throw e;
  }
  if (!v.success) throw new CertificateError("transaction_failed", "the proven transaction failed, so it issued nothing");
  if (!v.event) throw new CertificateError("no_event", "the proof does not name an event");
  const k = v.event.kind;
  if (k.case !== "volunteer" || k.value.kind.case !== "certificateIssued") {
    throw new CertificateError("not_issuance", "the proven event is not a certificate issuance");
  }
  return { certificate: k.value.kind.value, height: v.height, blockHash: v.blockHash };
}

export function verifyQr(text: string, set: ValidatorSet): ProvenCertificate {
  return verify(proofFromQr(text), set);
}
