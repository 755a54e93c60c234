/** Public API of the bundle module. Other folders import only from here. */
export * from './errors.js';
export { createBundle, type CreateOptions, type CreateResult } from './create.js';
export { extractBundle, assertFreeSpace, requiredBytes, type ExtractOptions, type ExtractResult } from './extract.js';
export { loadImage, resolveExpiry, IMAGE_FILE, type LoadedImage, type ImageRecipe } from './image.js';
export { parseManifest, encodeManifest, totalPayloadBytes, MANIFEST_FORMAT, type Manifest, type ManifestFile } from './manifest.js';
export { MANIFEST_NAME, SIGNATURE_NAME } from './paths.js';
export {
  certificateFingerprint,
  createRootCertificate,
  generateKeyPair,
  issueSigner,
  issueSignerCertificate,
  keyIdOf,
  keyMatchesCertificate,
  splitPemCertificates,
  parseTrustedRoot,
  verifySignerChain,
  RSA_BITS,
  type CertificateOptions,
  type IssuedIdentity,
  type VerifiedSigner,
} from './pki.js';
export { readBundle, verifyBundleHeader, type ReadBundleOptions, type VerifiedBundle } from './read.js';
export { REVOCATION_FORMAT, signRevocationList, verifyRevocationList, RevocationSet, type RevocationPayload } from './revocation.js';
export { SIGNATURE_ALG, parseSignatureFile, signManifest, type SigningIdentity, type TrustPolicy } from './signatures.js';
export { loadTrust, REVOCATION_LIST_FILE, type LoadedTrust, type LoadTrustOptions } from './trust.js';
export { inspectBundle, type InspectResult } from './inspect.js';
export type { VerifiedHeader } from './verify.js';
export { initKeys, issueKeys, revokeSigner, loadIssuer, type InitKeysResult, type KeyFiles } from './keystore.js';
