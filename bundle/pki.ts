/**
 * Offline PKI: an offline root CA signs signer certificates; signers sign
 * bundle manifests. Certificates are built and their extensions read with
 * node-forge; every signature (certificate links and manifests) is checked by
 * Node's OpenSSL-backed crypto as well. Pure: PEM strings in, results out.
 */
import { X509Certificate, createHash, createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';
import { BundleErrorCodes, BundleInputError, BundleTrustError } from './errors.js';

export const RSA_BITS = 3072;
/** A chain may hold the signer and at most this many intermediates. */
const MAX_INTERMEDIATES = 3;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Extensions we understand; any other extension marked critical is refused. */
const KNOWN_CRITICAL = new Set(['basicConstraints', 'keyUsage', 'extKeyUsage']);

export interface KeyPairPem {
  privateKeyPem: string;
  publicKeyPem: string;
}

export interface CertificateOptions {
  commonName: string;
  /** Validity in days from notBefore. */
  days: number;
  notBefore?: Date;
  /** Test hook and key-ceremony option: issue a signer without digitalSignature. */
  keyUsage?: { digitalSignature: boolean };
}

export interface IssuedIdentity extends KeyPairPem {
  certificatePem: string;
}

export function generateKeyPair(bits = RSA_BITS): KeyPairPem {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: bits,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

function serialNumber(): string {
  // Positive 128-bit serial: clear the top bit so DER does not read it as negative.
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

function validity(cert: forge.pki.Certificate, options: CertificateOptions): void {
  const notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = new Date(notBefore.getTime() + options.days * DAY_MS);
}

function forgeKey(privateKeyPem: string): forge.pki.rsa.PrivateKey {
  try {
    // forge reads PKCS#1; convert whatever PEM we were given through OpenSSL.
    const pkcs1 = createPrivateKey(privateKeyPem).export({ type: 'pkcs1', format: 'pem' }).toString();
    return forge.pki.privateKeyFromPem(pkcs1);
  } catch (cause) {
    throw new BundleInputError(BundleErrorCodes.KEY_INVALID, 'the private key is not an RSA key in PEM form', {
      cause,
      hint: 'Use a key made by `airlock keys init` or `airlock keys issue`.',
    });
  }
}

function parseForge(pem: string, what: string): forge.pki.Certificate {
  try {
    return forge.pki.certificateFromPem(pem);
  } catch (cause) {
    throw new BundleInputError(BundleErrorCodes.KEY_INVALID, `${what} is not an RSA X.509 certificate in PEM form`, {
      cause,
    });
  }
}

function publicKeyFromPrivate(privateKeyPem: string): forge.pki.rsa.PublicKey {
  const key = forgeKey(privateKeyPem);
  return forge.pki.setRsaPublicKey(key.n, key.e);
}

/** A self-signed offline root CA. */
export function createRootCertificate(privateKeyPem: string, options: CertificateOptions): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKeyFromPrivate(privateKeyPem);
  cert.serialNumber = serialNumber();
  validity(cert, options);
  const subject = [{ name: 'commonName', value: options.commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 1, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forgeKey(privateKeyPem), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/** A signer certificate (digitalSignature, codeSigning) issued by the root. */
export function issueSignerCertificate(
  issuerKeyPem: string,
  issuerCertPem: string,
  signerPublicKeyPem: string,
  options: CertificateOptions,
): string {
  const issuer = parseForge(issuerCertPem, 'the issuer certificate');
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(signerPublicKeyPem);
  cert.serialNumber = serialNumber();
  validity(cert, options);
  cert.setSubject([{ name: 'commonName', value: options.commonName }]);
  cert.setIssuer(issuer.subject.attributes);
  const digitalSignature = options.keyUsage?.digitalSignature ?? true;
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature, keyEncipherment: !digitalSignature, critical: true },
    { name: 'extKeyUsage', codeSigning: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forgeKey(issuerKeyPem), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/** Makes a key pair and a signer certificate for it in one step. */
export function issueSigner(issuerKeyPem: string, issuerCertPem: string, options: CertificateOptions): IssuedIdentity {
  const pair = generateKeyPair();
  return { ...pair, certificatePem: issueSignerCertificate(issuerKeyPem, issuerCertPem, pair.publicKeyPem, options) };
}

/** SHA-256 of the certificate's DER, lowercase hex. */
export function certificateFingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256.replaceAll(':', '').toLowerCase();
}

/** SHA-256 of the certificate's SubjectPublicKeyInfo: identifies a signer's key. */
export function keyIdOf(pem: string): string {
  const spki = new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('hex');
}

/** Checks that a private key belongs to a certificate. */
export function keyMatchesCertificate(privateKeyPem: string, certificatePem: string): boolean {
  try {
    return new X509Certificate(certificatePem).checkPrivateKey(createPrivateKey(privateKeyPem));
  } catch {
    return false;
  }
}

/** Splits a PEM bundle into its certificates. */
export function splitPemCertificates(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((pem) => `${pem}\n`) ?? [];
}

// ---------------------------------------------------------------- verification

export interface TrustedRoot {
  pem: string;
  fingerprint: string;
  x509: X509Certificate;
  forge: forge.pki.Certificate;
}

export interface VerifiedSigner {
  keyId: string;
  subject: string;
  fingerprint: string;
  serial: string;
  notAfter: string;
  root: string;
  /** Fingerprints of the chain, signer first, root last. */
  chain: string[];
}

interface ParsedCert {
  pem: string;
  x509: X509Certificate;
  forge: forge.pki.Certificate;
  fingerprint: string;
}

function untrusted(message: string, details: Record<string, unknown> = {}): BundleTrustError {
  return new BundleTrustError(BundleErrorCodes.SIGNER_UNTRUSTED, message, {
    hint: 'Sign with a key issued by the pinned root (`airlock keys issue`), or pass the right --trust.',
    details,
  });
}

function parseCert(pem: string, what: string): ParsedCert {
  let x509: X509Certificate;
  let parsed: forge.pki.Certificate;
  try {
    x509 = new X509Certificate(pem);
    parsed = forge.pki.certificateFromPem(pem);
  } catch (cause) {
    throw new BundleTrustError(BundleErrorCodes.CERT_WEAK, `${what} is not a parseable RSA X.509 certificate`, {
      cause,
      hint: 'Airlock signers use RSA-3072 or larger keys issued by `airlock keys`.',
    });
  }
  return { pem, x509, forge: parsed, fingerprint: x509.fingerprint256.replaceAll(':', '').toLowerCase() };
}

export function parseTrustedRoot(pem: string): TrustedRoot {
  const cert = parseCert(pem, 'trusted root');
  return { pem, fingerprint: cert.fingerprint, x509: cert.x509, forge: cert.forge };
}

function subjectOf(cert: forge.pki.Certificate): string {
  return cert.subject.attributes.map((a) => `${a.shortName ?? a.name}=${String(a.value)}`).join(', ');
}

function checkTime(cert: ParsedCert | TrustedRoot, now: Date, what: string): void {
  const { notBefore, notAfter } = cert.forge.validity;
  if (now < notBefore) {
    throw new BundleTrustError(
      BundleErrorCodes.CERT_NOT_YET_VALID,
      `${what} (${subjectOf(cert.forge)}) is not valid until ${notBefore.toISOString()}`,
      { hint: "Check this host's clock, or re-issue the certificate.", details: { notBefore: notBefore.toISOString() } },
    );
  }
  if (now > notAfter) {
    throw new BundleTrustError(
      BundleErrorCodes.CERT_EXPIRED,
      `${what} (${subjectOf(cert.forge)}) expired on ${notAfter.toISOString()}`,
      { hint: 'Re-issue the signer (`airlock keys issue`) and sign the bundle again.', details: { notAfter: notAfter.toISOString() } },
    );
  }
}

function checkKeyStrength(cert: ParsedCert | TrustedRoot, what: string): void {
  const key = cert.x509.publicKey;
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (key.asymmetricKeyType !== 'rsa' || bits < RSA_BITS) {
    throw new BundleTrustError(BundleErrorCodes.CERT_WEAK, `${what} has a ${key.asymmetricKeyType} ${bits}-bit key`, {
      hint: `Airlock requires RSA keys of at least ${RSA_BITS} bits.`,
    });
  }
}

function checkCriticalExtensions(cert: forge.pki.Certificate, what: string): void {
  for (const ext of cert.extensions as Array<{ name?: string; id?: string; critical?: boolean }>) {
    if (ext.critical && !KNOWN_CRITICAL.has(ext.name ?? '')) {
      throw untrusted(`${what} has an unknown critical extension ${ext.name ?? ext.id ?? '?'}`);
    }
  }
}

function isCa(cert: forge.pki.Certificate): boolean {
  const constraints = cert.getExtension('basicConstraints') as { cA?: boolean } | null;
  const usage = cert.getExtension('keyUsage') as { keyCertSign?: boolean } | null;
  return constraints?.cA === true && usage?.keyCertSign === true;
}

function checkSignerUsage(cert: ParsedCert): void {
  const usage = cert.forge.getExtension('keyUsage') as { digitalSignature?: boolean } | null;
  const extUsage = cert.forge.getExtension('extKeyUsage') as { codeSigning?: boolean } | null;
  const constraints = cert.forge.getExtension('basicConstraints') as { cA?: boolean } | null;
  const problem =
    usage?.digitalSignature !== true
      ? 'has no digitalSignature key usage'
      : constraints?.cA === true
        ? 'is a CA certificate, not a signer'
        : extUsage !== null && extUsage.codeSigning !== true
          ? 'has an extended key usage without codeSigning'
          : undefined;
  if (problem) {
    throw new BundleTrustError(BundleErrorCodes.CERT_KEY_USAGE, `signer certificate (${subjectOf(cert.forge)}) ${problem}`, {
      hint: 'Issue signer certificates with `airlock keys issue`; they carry digitalSignature and codeSigning.',
    });
  }
}

/** True when `issuer` signed `child`, checked by both OpenSSL and forge. */
function signedBy(child: ParsedCert, issuer: ParsedCert | TrustedRoot): boolean {
  if (!child.x509.checkIssued(issuer.x509)) return false;
  if (!child.x509.verify(issuer.x509.publicKey)) return false;
  try {
    return issuer.forge.verify(child.forge);
  } catch {
    return false;
  }
}

/**
 * Validates a signer chain (signer first) against the trusted roots at `now`.
 * Throws a BundleTrustError naming the first problem found.
 */
export function verifySignerChain(chainPems: string[], roots: TrustedRoot[], now: Date): VerifiedSigner & { publicKey: X509Certificate['publicKey'] } {
  if (chainPems.length === 0) throw untrusted('signature has no certificate chain');
  if (chainPems.length > MAX_INTERMEDIATES + 2) throw untrusted(`certificate chain of ${chainPems.length} is too long`);
  const chain = chainPems.map((pem, i) => parseCert(pem, i === 0 ? 'signer certificate' : `chain certificate ${i}`));
  const signer = chain[0]!;
  const fingerprints: string[] = [];
  let current = signer;
  for (let depth = 0; ; depth++) {
    const what = depth === 0 ? 'signer certificate' : `intermediate certificate ${depth}`;
    checkKeyStrength(current, what);
    checkCriticalExtensions(current.forge, what);
    checkTime(current, now, what);
    fingerprints.push(current.fingerprint);
    const root = roots.find((r) => r.fingerprint === current.fingerprint) ?? roots.find((r) => signedBy(current, r));
    if (root) {
      checkTime(root, now, 'trusted root');
      if (root.fingerprint !== current.fingerprint) fingerprints.push(root.fingerprint);
      if (depth === 0 && root.fingerprint === current.fingerprint) {
        throw new BundleTrustError(BundleErrorCodes.CERT_KEY_USAGE, 'the root certificate cannot sign bundles itself', {
          hint: 'Sign with a signer certificate issued by the root (`airlock keys issue`).',
        });
      }
      checkSignerUsage(signer);
      return {
        keyId: createHash('sha256').update(signer.x509.publicKey.export({ type: 'spki', format: 'der' })).digest('hex'),
        subject: subjectOf(signer.forge),
        fingerprint: signer.fingerprint,
        serial: signer.forge.serialNumber.toLowerCase(),
        notAfter: signer.forge.validity.notAfter.toISOString(),
        root: root.fingerprint,
        chain: fingerprints,
        publicKey: signer.x509.publicKey,
      };
    }
    const next = chain[depth + 1];
    if (!next) throw untrusted(`${what} (${subjectOf(current.forge)}) does not chain to a trusted root`, { subject: subjectOf(current.forge) });
    if (!isCa(next.forge)) throw untrusted(`chain certificate ${depth + 1} is not a CA`);
    if (!signedBy(current, next)) throw untrusted(`${what} is not signed by the next certificate in its chain`);
    current = next;
  }
}
