package keys_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/udpchat/udpchat/internal/keys"
)

func TestGenerateKey(t *testing.T) {
	k1, k2 := mustKey(t), mustKey(t)
	if k1.Equal(k2) || k1.IsZero() {
		t.Fatal("two keys alike, or zero")
	}
	if !k1.Public().Equal(k1.Public()) || k1.Public().Equal(k2.Public()) || k1.Public().IsZero() {
		t.Fatal("public keys wrong")
	}
}

func TestKeyText(t *testing.T) {
	k := mustKey(t)
	txt, err := k.MarshalText()
	if err != nil || len(txt) != 44 {
		t.Fatalf("MarshalText = %q, %v", txt, err)
	}
	var k2 keys.PrivateKey
	if err := k2.UnmarshalText(txt); err != nil || !k2.Equal(k) {
		t.Fatalf("UnmarshalText: %v", err)
	}
	pub := k.Public()
	ptxt, _ := pub.MarshalText()
	var pub2 keys.PublicKey
	if err := pub2.UnmarshalText(ptxt); err != nil || !pub2.Equal(pub) || pub.String() != string(ptxt) {
		t.Fatalf("public round trip: %v", err)
	}
	for _, bad := range []string{
		"", "abc", strings.Repeat("A", 43), strings.Repeat("A", 45),
		strings.Repeat("!", 44), strings.Repeat("A", 43) + "B", // non-zero padding bits: not canonical
	} {
		if err := pub2.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("UnmarshalText(%q) accepted", bad)
		}
	}
	zero, _ := keys.PublicKey{}.MarshalText()
	if err := k2.UnmarshalText(zero); err == nil {
		t.Error("an all-zero private key accepted")
	}
}

func TestPrivateKeyNeverPrinted(t *testing.T) {
	k := mustKey(t)
	txt, _ := k.MarshalText()
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "key", k)
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k), logged.String()} {
		if strings.Contains(s, string(txt)) || strings.Contains(s, fmt.Sprintf("%x", k[:4])) ||
			!strings.Contains(s, "redacted") {
			t.Errorf("private key shown: %q", s)
		}
	}
}

func TestFingerprint(t *testing.T) {
	k := mustKey(t).Public()
	fp := k.Fingerprint()
	if !regexp.MustCompile(`^BLAKE2s:[A-Z2-7]{4}(-[A-Z2-7]{4}){7}$`).MatchString(fp) {
		t.Fatalf("fingerprint %q", fp)
	}
	if fp != k.Fingerprint() || fp == mustKey(t).Public().Fingerprint() {
		t.Fatal("fingerprint not a function of the key")
	}
	// Golden: the all-zero key.
	const want = "BLAKE2s:GIFV-5KM6-MU54-FNMT-3NAT-BUIK-J36T-UC2M"
	if got := (keys.PublicKey{}).Fingerprint(); got != want {
		t.Errorf("fingerprint of the zero key %s, want %s", got, want)
	}
}

func TestParseFingerprint(t *testing.T) {
	const zero = "BLAKE2s:GIFV-5KM6-MU54-FNMT-3NAT-BUIK-J36T-UC2M"
	for _, in := range []string{zero, "blake2s:gifv-5km6-mu54-fnmt-3nat-buik-j36t-uc2m", "BLAKE2s:GIFV5KM6MU54FNMT3NATBUIKJ36TUC2M"} {
		if got, err := keys.ParseFingerprint(in); err != nil || got != zero {
			t.Errorf("ParseFingerprint(%q) = %q, %v; want %q", in, got, err, zero)
		}
	}
	for in, why := range map[string]string{
		"":                  "must start with BLAKE2s:",
		"SHA256:GIFV-5KM6":  "must start with BLAKE2s:",
		"BLAKE2s:":          "has 0 letters and digits, not 32",
		"BLAKE2s:ZZZZ-!!!!": "has 8 letters and digits, not 32",
		zero + "-AAAA":      "has 36 letters and digits, not 32",
		"BLAKE2s:GIFV-5KM6-MU54-FNMT-3NAT-BUIK-J36T-UC20": `'0' is not one of its characters`,
		"BLAKE2s:GIFV-5KM6-MU54-FNMT-3NAT-BUIK-J36T-UC2!": `'!' is not one of its characters`,
		"BLAKE2s:GIFV-5KM6-MU54-FNMT-3NAT-BUIK-J36T-UC2é": `'é' is not one of its characters`,
	} {
		_, err := keys.ParseFingerprint(in)
		if !errors.Is(err, keys.ErrBadFingerprint) || !strings.Contains(err.Error(), why) {
			t.Errorf("ParseFingerprint(%q): %v, want ErrBadFingerprint saying %q", in, err, why)
		}
	}
}

func mustKey(t testing.TB) keys.PrivateKey {
	t.Helper()
	k, err := keys.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}
