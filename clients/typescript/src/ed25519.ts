/**
 * ed25519 under the chain's rule, ZIP 215 (docs/adr/0014-zip215-signature-rule.md): signing is
 * RFC 8032 (every standard signature is valid under ZIP 215); verification accepts any point
 * encoding that decodes, refuses s >= l, and checks the cofactored equation — what the nodes
 * do, so this SDK accepts and refuses the same signatures as the chain.
 */
import { ed25519 } from "@noble/curves/ed25519.js";

export class SigningKey {
  readonly publicKey: Uint8Array;
  constructor(private readonly seed: Uint8Array) {
    if (seed.length !== 32) throw new Error(`an ed25519 seed is 32 bytes, got ${seed.length}`);
    this.publicKey = ed25519.getPublicKey(seed);
  }
  static generate(): SigningKey {
    return new SigningKey(crypto.getRandomValues(new Uint8Array(32)));
  }
  /** The key of a Yui key file's text: the 32-byte secret as 64 hex digits. */
  static fromKeyFileText(text: string): SigningKey {
    const t = text.trim();
    if (!/^[0-9a-fA-F]{64}$/.test(t)) throw new Error("not a Yui key file (64 hex digits)");
    return new SigningKey(Uint8Array.from(t.match(/../g)!.map((h) => parseInt(h, 16))));
  }
  sign(message: Uint8Array): Uint8Array {
    return ed25519.sign(message, this.seed);
  }
}

/** Whether `signature` is a valid ZIP 215 signature of `message` by `publicKey`. */
export function verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: true });
  } catch {
    return false;
  }
}
