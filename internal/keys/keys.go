// Package keys holds udpchat's typed keys: a user's X25519 identity secret
// and public key, their text forms, and the fingerprints people compare to
// check a key out of band. It knows no protocol: the Noise engine
// (internal/secure), the key file (internal/identity) and the known peers
// (internal/trust) all use it.
package keys

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/blake2s"
	"golang.org/x/crypto/curve25519"
)

// KeyLen is the length of a private or public key: an X25519 scalar or point.
const KeyLen = 32

// PrivateKey is a user's X25519 identity secret. Its String never shows it;
// MarshalText does (for the identity file, which another layer writes with
// mode 0600).
type PrivateKey [KeyLen]byte

// PublicKey is an X25519 public key: a user's identity as peers see it.
type PublicKey [KeyLen]byte

// ErrBadKey is returned when a key does not decode or is unusable.
var ErrBadKey = errors.New("keys: bad key")

// GenerateKey returns a new random private key.
func GenerateKey() (PrivateKey, error) {
	var k PrivateKey
	if _, err := rand.Read(k[:]); err != nil {
		return PrivateKey{}, fmt.Errorf("keys: generating a key: %w", err)
	}
	// Clamp as RFC 7748 does, so the stored key is the scalar in use.
	k[0] &= 248
	k[31] = k[31]&127 | 64
	return k, nil
}

// Public returns the public key of k.
func (k PrivateKey) Public() PublicKey {
	var p PublicKey
	pub, err := curve25519.X25519(k[:], curve25519.Basepoint)
	if err != nil {
		// Only a low-order point gives an error, and the base point is not one.
		panic(err)
	}
	copy(p[:], pub)
	return p
}

// IsZero reports whether k is the zero key (never a real key).
func (k PrivateKey) IsZero() bool { return subtle.ConstantTimeCompare(k[:], make([]byte, KeyLen)) == 1 }

// Equal compares in constant time.
func (k PrivateKey) Equal(o PrivateKey) bool { return subtle.ConstantTimeCompare(k[:], o[:]) == 1 }

// String hides the key: private keys must not end up in logs by accident.
func (k PrivateKey) String() string { return "PrivateKey(redacted)" }

// GoString hides the key from %#v too.
func (k PrivateKey) GoString() string { return k.String() }

// LogValue hides the key from slog.
func (k PrivateKey) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalText encodes the key as standard base64 (44 characters), the form
// WireGuard uses for its keys.
func (k PrivateKey) MarshalText() ([]byte, error) { return marshalKey(k[:]), nil }

// UnmarshalText decodes what MarshalText produced.
func (k *PrivateKey) UnmarshalText(b []byte) error {
	var d [KeyLen]byte
	if err := unmarshalKey(d[:], b, "private"); err != nil {
		return err
	}
	if PrivateKey(d).IsZero() {
		return fmt.Errorf("%w: private key is all zeros", ErrBadKey)
	}
	*k = d
	return nil
}

// Equal compares in constant time.
func (k PublicKey) Equal(o PublicKey) bool { return subtle.ConstantTimeCompare(k[:], o[:]) == 1 }

// IsZero reports whether k is the zero key.
func (k PublicKey) IsZero() bool { return k.Equal(PublicKey{}) }

// String is the key in standard base64, as MarshalText.
func (k PublicKey) String() string { return string(marshalKey(k[:])) }

// MarshalText encodes the key as standard base64 (44 characters).
func (k PublicKey) MarshalText() ([]byte, error) { return marshalKey(k[:]), nil }

// UnmarshalText decodes what MarshalText produced.
func (k *PublicKey) UnmarshalText(b []byte) error {
	var d [KeyLen]byte
	if err := unmarshalKey(d[:], b, "public"); err != nil {
		return err
	}
	*k = d
	return nil
}

// fingerprintEncoding is RFC 4648 base32 without padding: upper-case letters
// and 2-7, nothing that reads as another character (no 0/O, 1/l).
var fingerprintEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// FingerprintPrefix starts every fingerprint, naming the hash as ssh's
// "SHA256:" does.
const FingerprintPrefix = "BLAKE2s:"

// Fingerprint is the short form people compare to check a key, out of band,
// the way ssh shows host keys: "BLAKE2s:" and then the first 160 bits of
// BLAKE2s-256 of the key, in base32, in eight groups of four separated by
// dashes, e.g. BLAKE2s:MZXW-6YTB-OI3D-EMRT-GQ2T-MNZU-GY3D-KMJV.
// 160 bits make a second key with the same fingerprint out of reach.
func (k PublicKey) Fingerprint() string {
	sum := blake2s.Sum256(k[:])
	enc := fingerprintEncoding.EncodeToString(sum[:20]) // 32 characters
	return formatFingerprint(enc)
}

// fingerprintGroups and fingerprintGroupLen shape a fingerprint's base32
// text: eight groups of four, 160 bits.
const (
	fingerprintGroups   = 8
	fingerprintGroupLen = 4
)

// ErrBadFingerprint is returned by ParseFingerprint.
var ErrBadFingerprint = errors.New("not a fingerprint")

// ParseFingerprint checks that s is a fingerprint as Fingerprint writes it
// and returns it in that exact form. It forgives what people do when they
// copy one by hand — lower case, missing dashes — but not a wrong length
// or a character base32 does not use (0, 1, 8, 9, punctuation): a
// fingerprint is compared character for character, so one that can match
// no key must be refused, not remembered. There is no checksum to verify:
// the fingerprint is itself a hash, and any 160 bits may be one.
func ParseFingerprint(s string) (string, error) {
	n := len(FingerprintPrefix)
	if len(s) < n || !strings.EqualFold(s[:n], FingerprintPrefix) {
		return "", fmt.Errorf("%w: it must start with %s", ErrBadFingerprint, FingerprintPrefix)
	}
	body := strings.ReplaceAll(s[n:], "-", "")
	want := fingerprintGroups * fingerprintGroupLen
	if n := utf8.RuneCountInString(body); n != want {
		return "", fmt.Errorf("%w: after %s it has %d letters and digits, not %d", ErrBadFingerprint, FingerprintPrefix, n, want)
	}
	for _, r := range body {
		if !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '2' <= r && r <= '7') {
			return "", fmt.Errorf("%w: %q is not one of its characters (A-Z and 2-7)", ErrBadFingerprint, r)
		}
	}
	return formatFingerprint(strings.ToUpper(body)), nil
}

// formatFingerprint writes the base32 text body as a fingerprint: the
// prefix, then groups of four separated by dashes.
func formatFingerprint(body string) string {
	var b strings.Builder
	b.WriteString(FingerprintPrefix)
	for i := 0; i < len(body); i += fingerprintGroupLen {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(body[i:min(i+fingerprintGroupLen, len(body))])
	}
	return b.String()
}

func marshalKey(k []byte) []byte {
	out := make([]byte, base64.StdEncoding.EncodedLen(KeyLen))
	base64.StdEncoding.Encode(out, k)
	return out
}

func unmarshalKey(dst, text []byte, kind string) error {
	if base64.StdEncoding.DecodedLen(len(text)) < KeyLen || len(text) != base64.StdEncoding.EncodedLen(KeyLen) {
		return fmt.Errorf("%w: a %s key is %d base64 characters, got %d", ErrBadKey, kind,
			base64.StdEncoding.EncodedLen(KeyLen), len(text))
	}
	var buf [KeyLen + 2]byte
	n, err := base64.StdEncoding.Strict().Decode(buf[:], text)
	if err != nil || n != KeyLen {
		return fmt.Errorf("%w: %s key is not base64 of %d bytes", ErrBadKey, kind, KeyLen)
	}
	copy(dst, buf[:KeyLen])
	return nil
}
