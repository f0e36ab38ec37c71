package wire

// Variable-length integers use the encoding of QUIC (RFC 9000, section 16):
// the two high bits of the first byte give the length (1, 2, 4 or 8 bytes),
// the rest is the value in network byte order. Values up to 2^62-1 fit.

// MaxVarint is the largest value a varint can hold.
const MaxVarint = 1<<62 - 1

// VarintLen is the number of bytes AppendVarint writes for v.
func VarintLen(v uint64) int {
	switch {
	case v <= 63:
		return 1
	case v <= 16383:
		return 2
	case v <= 1073741823:
		return 4
	default:
		return 8
	}
}

// AppendVarint appends v (which must not exceed MaxVarint) to b.
func AppendVarint(b []byte, v uint64) []byte {
	switch VarintLen(v) {
	case 1:
		return append(b, byte(v))
	case 2:
		return append(b, byte(v>>8)|0x40, byte(v))
	case 4:
		return append(b, byte(v>>24)|0x80, byte(v>>16), byte(v>>8), byte(v))
	default:
		return append(b, byte(v>>56)|0xc0, byte(v>>48), byte(v>>40), byte(v>>32),
			byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
}

// ParseVarint reads a varint from the front of b and returns it with the
// number of bytes it took. It returns ErrTruncated if b ends first.
func ParseVarint(b []byte) (v uint64, n int, err error) {
	if len(b) == 0 {
		return 0, 0, ErrTruncated
	}
	n = 1 << (b[0] >> 6)
	if len(b) < n {
		return 0, 0, ErrTruncated
	}
	v = uint64(b[0] & 0x3f)
	for _, c := range b[1:n] {
		v = v<<8 | uint64(c)
	}
	return v, n, nil
}
