package wire

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// rep is n copies of a hex byte, for golden layouts.
func rep(hexByte string, n int) string { return strings.Repeat(hexByte, n) }

func TestSecureSizes(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want int
	}{
		{"InitiationLen", InitiationLen, 134},
		{"InitMAC1Offset", InitMAC1Offset, 102},
		{"InitMAC2Offset", InitMAC2Offset, 118},
		{"RespXXLen", RespXXLen, 106},
		{"RespIKLen", RespIKLen, 58},
		{"FinishXXLen", FinishXXLen, 70},
		{"CookieReplyLen", CookieReplyLen, 62},
		{"DataHeaderLen", DataHeaderLen, 14},
		{"DataOverhead", DataOverhead, 30},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %d, want %d", tc.name, tc.got, tc.want)
		}
	}
	// No amplification: nothing a responder sends in answer to an
	// initiation is larger than the initiation.
	for _, n := range []int{RespXXLen, RespIKLen, CookieReplyLen} {
		if n > InitiationLen {
			t.Errorf("an answer of %d bytes to an initiation of %d", n, InitiationLen)
		}
	}
	// A transport packet that leaves room for a whole chunk fits once sealed.
	if MinPacket+DataOverhead > MaxDatagram {
		t.Errorf("MinPacket %d + DataOverhead %d > MaxDatagram", MinPacket, DataOverhead)
	}
}

var initiationGolden = []struct {
	m   Initiation
	hex string
}{
	{
		Initiation{Type: TypeInitXX, Sender: 0x01020304, Noise: bytes.Repeat([]byte{0xaa}, 32),
			MAC1: [16]byte{0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11}},
		"01 10 01020304" + rep("aa", 32) + rep("00", 64) + rep("11", 16) + rep("00", 16),
	},
	{
		Initiation{Type: TypeInitIK, Sender: 0xffffffff, Noise: bytes.Repeat([]byte{0xbb}, 96),
			MAC1: [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
			MAC2: [16]byte{0xf0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0f}},
		"01 11 ffffffff" + rep("bb", 96) + "0102030405060708090a0b0c0d0e0f10" + "f0" + rep("00", 14) + "0f",
	},
}

func initEqual(a, b Initiation) bool {
	return a.Type == b.Type && a.Sender == b.Sender && bytes.Equal(a.Noise, b.Noise) && a.MAC1 == b.MAC1 && a.MAC2 == b.MAC2
}

func TestInitiationGolden(t *testing.T) {
	for _, tc := range initiationGolden {
		want := mustHex(tc.hex)
		if len(want) != InitiationLen {
			t.Fatalf("golden is %d bytes", len(want))
		}
		if got := tc.m.Append(nil); !bytes.Equal(got, want) {
			t.Errorf("Append =\n%x, want\n%x", got, want)
		}
		m, err := ParseInitiation(want)
		if err != nil || !initEqual(m, tc.m) {
			t.Errorf("ParseInitiation = %+v, %v; want %+v", m, err, tc.m)
		}
		if &m.Noise[0] != &want[6] {
			t.Error("Noise does not alias the datagram")
		}
		checkTruncated(t, want, func(b []byte) error { _, err := ParseInitiation(b); return err })
	}
}

var responseGolden = []struct {
	m   Response
	hex string
}{
	{Response{Type: TypeRespXX, Sender: 5, Receiver: 0x01020304, Noise: bytes.Repeat([]byte{0xcc}, 96)},
		"01 12 00000005 01020304" + rep("cc", 96)},
	{Response{Type: TypeRespIK, Sender: 0xdeadbeef, Receiver: 1, Noise: bytes.Repeat([]byte{0xdd}, 48)},
		"01 13 deadbeef 00000001" + rep("dd", 48)},
}

func TestResponseGolden(t *testing.T) {
	for _, tc := range responseGolden {
		want := mustHex(tc.hex)
		if got := tc.m.Append(nil); !bytes.Equal(got, want) {
			t.Errorf("Append =\n%x, want\n%x", got, want)
		}
		m, err := ParseResponse(want)
		if err != nil || m.Type != tc.m.Type || m.Sender != tc.m.Sender || m.Receiver != tc.m.Receiver ||
			!bytes.Equal(m.Noise, tc.m.Noise) {
			t.Errorf("ParseResponse = %+v, %v", m, err)
		}
		checkTruncated(t, want, func(b []byte) error { _, err := ParseResponse(b); return err })
	}
}

func TestFinishGolden(t *testing.T) {
	m := Finish{Receiver: 0x0a0b0c0d, Noise: bytes.Repeat([]byte{0xee}, 64)}
	want := mustHex("01 14 0a0b0c0d" + rep("ee", 64))
	if got := m.Append(nil); !bytes.Equal(got, want) {
		t.Errorf("Append =\n%x, want\n%x", got, want)
	}
	p, err := ParseFinish(want)
	if err != nil || p.Receiver != m.Receiver || !bytes.Equal(p.Noise, m.Noise) {
		t.Errorf("ParseFinish = %+v, %v", p, err)
	}
	checkTruncated(t, want, func(b []byte) error { _, err := ParseFinish(b); return err })
}

func TestCookieReplyGolden(t *testing.T) {
	m := CookieReply{Receiver: 0x11223344}
	for i := range m.Nonce {
		m.Nonce[i] = byte(i)
	}
	for i := range m.Cookie {
		m.Cookie[i] = 0xf0 | byte(i&15)
	}
	want := mustHex("01 15 11223344 000102030405060708090a0b0c0d0e0f1011121314151617" +
		"f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
	if got := m.Append(nil); !bytes.Equal(got, want) {
		t.Errorf("Append =\n%x, want\n%x", got, want)
	}
	p, err := ParseCookieReply(want)
	if err != nil || p != m {
		t.Errorf("ParseCookieReply = %+v, %v", p, err)
	}
	checkTruncated(t, want, func(b []byte) error { _, err := ParseCookieReply(b); return err })
}

func TestDataGolden(t *testing.T) {
	h := DataHeader{Receiver: 0x01020304, Counter: 0x1122334455667788}
	want := mustHex("01 16 01020304 1122334455667788")
	if got := AppendDataHeader(nil, h); !bytes.Equal(got, want) {
		t.Errorf("AppendDataHeader = %x, want %x", got, want)
	}
	d := append(want, bytes.Repeat([]byte{0x99}, TagLen+3)...)
	p, ct, err := ParseData(d)
	if err != nil || p != h || len(ct) != TagLen+3 || &ct[0] != &d[DataHeaderLen] {
		t.Errorf("ParseData = %+v, %x, %v", p, ct, err)
	}
	checkTruncated(t, d[:DataOverhead], func(b []byte) error { _, _, err := ParseData(b); return err })
	// The largest: MaxPathDatagram (path MTU discovery may grow data
	// datagrams to it); one more is too big.
	big := append(AppendDataHeader(nil, h), make([]byte, MaxPathDatagram-DataHeaderLen)...)
	if _, ct, err := ParseData(big); err != nil || len(ct) != MaxPathDatagram-DataHeaderLen {
		t.Errorf("ParseData(MaxPathDatagram bytes): %v", err)
	}
	if _, _, err := ParseData(append(big, 0)); !errors.Is(err, ErrTooBig) {
		t.Errorf("ParseData(MaxPathDatagram+1 bytes): %v, want ErrTooBig", err)
	}
}

// checkTruncated: every proper prefix of a valid datagram is an error
// wrapping ErrTruncated.
func checkTruncated(t *testing.T, b []byte, parse func([]byte) error) {
	t.Helper()
	for i := range len(b) {
		if err := parse(b[:i]); !errors.Is(err, ErrTruncated) {
			t.Errorf("parse(%d of %d bytes): %v, want ErrTruncated", i, len(b), err)
		}
	}
}

func TestSecureRejects(t *testing.T) {
	xx := mustHex(initiationGolden[0].hex)
	mutate := func(b []byte, i int, v byte) []byte { c := bytes.Clone(b); c[i] = v; return c }
	for _, tc := range []struct {
		name  string
		parse func([]byte) error
		b     []byte
		want  error
	}{
		{"init version", parseInit, mutate(xx, 0, 2), ErrVersion},
		{"init type", parseInit, mutate(xx, 1, TypeRespXX), ErrType},
		{"init transport type", parseInit, mutate(xx, 1, TypeTransport), ErrType},
		{"init long", parseInit, append(bytes.Clone(xx), 0), ErrMalformed},
		{"init padding", parseInit, mutate(xx, 6+32+5, 1), ErrMalformed},
		{"init huge", parseInit, make([]byte, MaxDatagram+1), ErrTooBig},
		{"resp unknown type", parseResp, mustHex("01 14" + rep("00", 100)), ErrType},
		{"resp long", parseResp, mustHex(responseGolden[1].hex + "00"), ErrMalformed},
		{"resp XX short as IK", parseResp, mustHex("01 12" + rep("00", RespIKLen-2)), ErrTruncated},
		{"resp version", parseResp, mustHex("07 12"), ErrVersion},
		// Found by FuzzParseResponse: size is checked before the type.
		{"resp huge, bad type", parseResp, append([]byte{1, 0x30}, make([]byte, MaxDatagram-1)...), ErrTooBig},
		{"resp huge", parseResp, append(mustHex(responseGolden[0].hex), make([]byte, MaxDatagram)...), ErrTooBig},
		{"finish long", parseFinish, mustHex("01 14" + rep("00", FinishXXLen)), ErrMalformed},
		{"finish type", parseFinish, mustHex("01 12" + rep("00", FinishXXLen-2)), ErrType},
		{"cookie long", parseCookie, mustHex("01 15" + rep("00", CookieReplyLen)), ErrMalformed},
		{"data version", parseData, mustHex("00 16" + rep("00", 40)), ErrVersion},
		{"data type", parseData, mustHex("01 01" + rep("00", 40)), ErrType},
		{"data no tag", parseData, mustHex("01 16" + rep("00", DataOverhead-3)), ErrTruncated},
		{"type: transport", secureType, mustHex("01 01"), ErrType},
		{"type: 0x18", secureType, mustHex("01 18"), ErrType},
		{"refused long", parseRefused, mustHex("01 17" + rep("00", RefusedLen-1)), ErrMalformed},
		{"refused short", parseRefused, mustHex("01 17" + rep("00", RefusedLen-3)), ErrTruncated},
		{"refused type", parseRefused, mustHex("01 16" + rep("00", RefusedLen-2)), ErrType},
		{"type: 0x0f", secureType, mustHex("01 0f"), ErrType},
		{"type: version", secureType, mustHex("02 10"), ErrVersion},
		{"type: empty", secureType, nil, ErrTruncated},
		{"type: huge", secureType, make([]byte, MaxPathDatagram+1), ErrTooBig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.parse(tc.b)
			if !errors.Is(err, tc.want) {
				t.Fatalf("%v, want %v", err, tc.want)
			}
		})
	}
}

func parseInit(b []byte) error    { _, err := ParseInitiation(b); return err }
func parseResp(b []byte) error    { _, err := ParseResponse(b); return err }
func parseFinish(b []byte) error  { _, err := ParseFinish(b); return err }
func parseCookie(b []byte) error  { _, err := ParseCookieReply(b); return err }
func parseData(b []byte) error    { _, _, err := ParseData(b); return err }
func parseRefused(b []byte) error { _, _, err := ParseRefused(b); return err }
func secureType(b []byte) error   { _, err := SecureType(b); return err }

func TestSecureAllocs(t *testing.T) {
	ini := mustHex(initiationGolden[1].hex)
	resp := mustHex(responseGolden[0].hex)
	data := append(AppendDataHeader(nil, DataHeader{Receiver: 1, Counter: 2}), make([]byte, 100)...)
	buf := make([]byte, 0, MaxDatagram)
	m, _ := ParseInitiation(ini)
	for name, f := range map[string]func(){
		"ParseInitiation":   func() { ParseInitiation(ini) },
		"ParseResponse":     func() { ParseResponse(resp) },
		"ParseData":         func() { ParseData(data) },
		"SecureType":        func() { SecureType(data) },
		"Initiation.Append": func() { buf = m.Append(buf[:0]) },
		"AppendDataHeader":  func() { buf = AppendDataHeader(buf[:0], DataHeader{Receiver: 3, Counter: 4}) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocations", name, n)
		}
	}
}

// checkFuzzErr: a parser's error always wraps a sentinel, and a datagram
// over the parser's limit is always ErrTooBig.
func checkFuzzErr(t *testing.T, b []byte, err error, limit int) {
	t.Helper()
	checkSentinel(t, err)
	if len(b) > limit && !errors.Is(err, ErrTooBig) {
		t.Fatalf("%d bytes: %v, want ErrTooBig", len(b), err)
	}
}

func FuzzParseInitiation(f *testing.F) {
	for _, tc := range initiationGolden {
		f.Add(mustHex(tc.hex))
	}
	f.Add(mustHex("01 10"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseInitiation(b)
		if err != nil {
			checkFuzzErr(t, b, err, MaxDatagram)
			return
		}
		if len(b) != InitiationLen {
			t.Fatalf("accepted %d bytes", len(b))
		}
		if enc := m.Append(nil); !bytes.Equal(enc, b) {
			t.Fatalf("Append(Parse(%x)) = %x", b, enc)
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	for _, tc := range responseGolden {
		f.Add(mustHex(tc.hex))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseResponse(b)
		if err != nil {
			checkFuzzErr(t, b, err, MaxDatagram)
			return
		}
		if enc := m.Append(nil); !bytes.Equal(enc, b) {
			t.Fatalf("Append(Parse(%x)) = %x", b, enc)
		}
	})
}

func FuzzParseFinish(f *testing.F) {
	f.Add(mustHex("01 14 0a0b0c0d" + rep("ee", 64)))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseFinish(b)
		if err != nil {
			checkFuzzErr(t, b, err, MaxDatagram)
			return
		}
		if enc := m.Append(nil); !bytes.Equal(enc, b) {
			t.Fatalf("Append(Parse(%x)) = %x", b, enc)
		}
	})
}

func FuzzParseCookieReply(f *testing.F) {
	f.Add(mustHex("01 15 11223344" + rep("01", 24) + rep("02", 32)))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseCookieReply(b)
		if err != nil {
			checkFuzzErr(t, b, err, MaxDatagram)
			return
		}
		if enc := m.Append(nil); !bytes.Equal(enc, b) {
			t.Fatalf("Append(Parse(%x)) = %x", b, enc)
		}
	})
}

func FuzzParseData(f *testing.F) {
	f.Add(mustHex("01 16 01020304 1122334455667788" + rep("99", 16)))
	f.Add(mustHex("01 16 01020304 1122334455667788" + rep("99", 100)))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, ct, err := ParseData(b)
		if err != nil {
			checkFuzzErr(t, b, err, MaxPathDatagram)
			return
		}
		if len(ct) < TagLen || len(ct) != len(b)-DataHeaderLen {
			t.Fatalf("ciphertext of %d bytes from %d", len(ct), len(b))
		}
		if enc := AppendDataHeader(nil, h); !bytes.Equal(enc, b[:DataHeaderLen]) {
			t.Fatalf("AppendDataHeader(%+v) = %x, parsed from %x", h, enc, b[:DataHeaderLen])
		}
	})
}

func FuzzSecureType(f *testing.F) {
	f.Add(mustHex("01 16"))
	f.Add(mustHex("01 01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ty, err := SecureType(b)
		if err != nil {
			checkFuzzErr(t, b, err, MaxPathDatagram)
			return
		}
		if ty < TypeInitXX || ty > TypeRefused || b[0] != Version {
			t.Fatalf("SecureType(%x) = 0x%02x", b, ty)
		}
	})
}

func TestRefusedGolden(t *testing.T) {
	h := DataHeader{Receiver: 0x01020304, Counter: 0x1122334455667788}
	want := mustHex("01 17 01020304 1122334455667788" + rep("99", TagLen))
	b := append(AppendRefusedHeader(nil, h), bytes.Repeat([]byte{0x99}, TagLen)...)
	if !bytes.Equal(b, want) || len(b) != RefusedLen {
		t.Fatalf("refusal %x, want %x", b, want)
	}
	got, tag, err := ParseRefused(want)
	if err != nil || got != h || !bytes.Equal(tag, want[DataHeaderLen:]) {
		t.Fatalf("ParseRefused = %+v, %x, %v", got, tag, err)
	}
	for i := range want {
		if _, _, err := ParseRefused(want[:i]); err == nil {
			t.Errorf("ParseRefused of a %d-byte prefix: no error", i)
		}
	}
}

func FuzzParseRefused(f *testing.F) {
	f.Add(mustHex("01 17 01020304 1122334455667788" + rep("99", 16)))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, tag, err := ParseRefused(b)
		if err != nil {
			checkFuzzErr(t, b, err, MaxPathDatagram)
			return
		}
		if enc := append(AppendRefusedHeader(nil, h), tag...); !bytes.Equal(enc, b) {
			t.Fatalf("Append(Parse(%x)) = %x", b, enc)
		}
	})
}
