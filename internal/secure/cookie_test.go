package secure

import (
	"net/netip"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/wire"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// initiationWithMAC2 builds an initiation from addr's point of view that
// carries mac2 made with cookie.
func initiationWithMAC2(cookie [wire.MACLen]byte) []byte {
	m := wire.Initiation{Type: wire.TypeInitXX, Sender: 7, Noise: make([]byte, wire.NoiseInitXXLen)}
	m.MAC1[0] = 1
	b := m.Append(nil)
	mac2 := mac16(cookie[:], b[:wire.InitMAC2Offset])
	copy(b[wire.InitMAC2Offset:], mac2[:])
	return b
}

func TestCookieValidation(t *testing.T) {
	var j cookieJar
	a := netip.MustParseAddrPort("192.0.2.1:1000")
	if j.checkMAC2(initiationWithMAC2([16]byte{1}), a, t0) {
		t.Fatal("mac2 accepted before any cookie was made")
	}
	cookie := j.cookie(a, t0)
	b := initiationWithMAC2(cookie)
	if !j.checkMAC2(b, a, t0) {
		t.Fatal("a valid mac2 refused")
	}
	// Bound to the address and port.
	for _, other := range []string{"192.0.2.1:1001", "192.0.2.2:1000", "[2001:db8::1]:1000"} {
		if j.checkMAC2(b, netip.MustParseAddrPort(other), t0) {
			t.Errorf("cookie of %v accepted from %v", a, other)
		}
	}
	// Bound to the message: any change breaks it.
	for i := range wire.InitMAC2Offset {
		c := append([]byte(nil), b...)
		c[i] ^= 0x40
		if j.checkMAC2(c, a, t0) {
			t.Fatalf("mac2 still valid with byte %d changed", i)
		}
	}
	// No mac2 at all.
	z := append([]byte(nil), b...)
	clear(z[wire.InitMAC2Offset:])
	if j.checkMAC2(z, a, t0) {
		t.Fatal("zero mac2 accepted")
	}
}

func TestCookieRotation(t *testing.T) {
	var j cookieJar
	a := netip.MustParseAddrPort("192.0.2.1:1000")
	first := initiationWithMAC2(j.cookie(a, t0))
	// Within a lifetime the secret stays.
	ab := addrBytes(a)
	if c := j.cookie(a, t0.Add(cookieLifetime-time.Second)); c != mac16(j.secret[:], ab[:]) {
		t.Fatal("cookie changed")
	}
	if got := initiationWithMAC2(j.cookie(a, t0.Add(time.Minute))); string(got) != string(first) {
		t.Fatal("cookie changed within its lifetime")
	}
	// After one lifetime the secret rotates; the old cookie still works.
	t1 := t0.Add(cookieLifetime + time.Second)
	second := initiationWithMAC2(j.cookie(a, t1))
	if string(second) == string(first) {
		t.Fatal("secret did not rotate")
	}
	if !j.checkMAC2(first, a, t1) || !j.checkMAC2(second, a, t1) {
		t.Fatal("current or previous cookie refused after rotation")
	}
	// After another rotation the first is gone.
	t2 := t1.Add(cookieLifetime + time.Second)
	if j.checkMAC2(first, a, t2) {
		t.Fatal("a cookie two secrets old accepted")
	}
	if !j.checkMAC2(second, a, t2) {
		t.Fatal("the previous secret's cookie refused")
	}
	// A long silence forgets both.
	t3 := t2.Add(3 * cookieLifetime)
	if j.checkMAC2(second, a, t3) {
		t.Fatal("a stale cookie accepted after a long silence")
	}
}

func TestCookieSealing(t *testing.T) {
	var zero keys.PublicKey
	key := labelKey(labelCookie, &zero)
	mac1 := [wire.MACLen]byte{1, 2, 3}
	cookie := [wire.MACLen]byte{9, 8, 7}
	r := sealCookie(&key, 42, mac1, cookie)
	if r.Receiver != 42 {
		t.Fatalf("receiver %d", r.Receiver)
	}
	got, ok := openCookie(&key, &r, mac1)
	if !ok || got != cookie {
		t.Fatalf("openCookie = %x, %v", got, ok)
	}
	// Bound to the initiation's mac1 and to the key.
	if _, ok := openCookie(&key, &r, [wire.MACLen]byte{1, 2, 4}); ok {
		t.Fatal("cookie opened with another mac1")
	}
	other := labelKey(labelCookie, &keys.PublicKey{1})
	if _, ok := openCookie(&other, &r, mac1); ok {
		t.Fatal("cookie opened with another key")
	}
	r.Cookie[0] ^= 1
	if _, ok := openCookie(&key, &r, mac1); ok {
		t.Fatal("tampered cookie opened")
	}
	// A reply is the size the wire says, and smaller than an initiation.
	if n := len(r.Append(nil)); n != wire.CookieReplyLen || n > wire.InitiationLen {
		t.Fatalf("cookie reply of %d bytes", n)
	}
}
