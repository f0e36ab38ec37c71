package secure

import (
	"crypto/cipher"
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flynn/noise"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/secure/replay"
	"github.com/udpchat/udpchat/internal/wire"
)

const (
	// maxQueued bounds the packets waiting for a handshake, per peer; the
	// oldest go first (the transport resends what matters).
	maxQueued = 16
	// maxKeypairs bounds the sessions per peer that still accept data: the
	// current one and those it replaced (kept until they expire, so packets
	// in flight during a rekey, or sent by a peer that has not switched yet,
	// still arrive).
	maxKeypairs = 4
	// rejectAfterPackets: a counter this large is never sent or accepted
	// (a time or packet rekey comes long before).
	rejectAfterPackets = 1 << 60
)

// keypair is one session's pair of ciphers, from one completed handshake.
// Once installed in a peer, p.mu guards its mutable fields; before that (a
// responder's IK keypair awaiting its first packet) the goroutine that claimed
// its handshake owns it.
type keypair struct {
	send, recv cipher.AEAD
	// The AEAD nonces, kept here rather than on the stack: an interface call
	// would move a local array to the heap on every packet.
	sendNonce, recvNonce [chacha20poly1305.NonceSize]byte
	sendCounter          uint64
	window               replay.Window
	created              time.Time
	seq                  uint64 // creation order within the Conn: larger is newer
	localIndex           uint32 // ours: data to us carries it
	remoteIndex          uint32 // the peer's: data from us carries it
	remoteKey            keys.PublicKey
	initiator            bool
	retired              bool

	// finish is an XX initiator's third handshake message, resent (at most
	// every HandshakeRetry) until data arrives on this keypair, in case it
	// was lost; nil once confirmed.
	finish     []byte
	finishSent time.Time
}

// newKeypair takes the ciphers from the CipherStates a handshake produced.
// flynn/noise's CipherState counts nonces implicitly, which assumes in-order
// delivery; UDP has none, so each datagram carries its counter and we use the
// AEAD directly with the nonce Noise would: 32 zero bits, then the counter,
// little-endian (the same bytes CipherState.Cipher().Encrypt(out, counter,
// ...) produces, without its allocation per call).
func (c *Conn) newKeypair(send, recv *noise.CipherState, now time.Time) *keypair {
	kp := &keypair{created: now, seq: c.kpSeq.Add(1)}
	sk, rk := send.UnsafeKey(), recv.UnsafeKey()
	var err error
	if kp.send, err = chacha20poly1305.New(sk[:]); err != nil {
		panic(err)
	}
	if kp.recv, err = chacha20poly1305.New(rk[:]); err != nil {
		panic(err)
	}
	return kp
}

// seal appends the data datagram carrying pkt to b.
func (kp *keypair) seal(b, pkt []byte) []byte { return kp.sealAs(b, wire.AppendDataHeader, pkt) }

// sealRefusal appends a refusal (see Conn.Refuse) to b: no packet, only
// the tag, under the next counter like any datagram of the session.
func (kp *keypair) sealRefusal(b []byte) []byte { return kp.sealAs(b, wire.AppendRefusedHeader, nil) }

func (kp *keypair) sealAs(b []byte, appendHeader func([]byte, wire.DataHeader) []byte, pkt []byte) []byte {
	n := kp.sendCounter
	kp.sendCounter++
	start := len(b)
	b = appendHeader(b, wire.DataHeader{Receiver: kp.remoteIndex, Counter: n})
	binary.LittleEndian.PutUint64(kp.sendNonce[4:], n)
	return kp.send.Seal(b, kp.sendNonce[:], pkt, b[start:])
}

// open authenticates and decrypts a data datagram in place (header is its
// first wire.DataHeaderLen bytes, ct the rest) and returns the packet. The
// replay window moves only for a packet that authenticated.
func (kp *keypair) open(h wire.DataHeader, header, ct []byte) ([]byte, DropReason, bool) {
	if h.Counter >= rejectAfterPackets || !kp.window.Check(h.Counter) {
		return nil, DropReplay, false
	}
	binary.LittleEndian.PutUint64(kp.recvNonce[4:], h.Counter)
	pt, err := kp.recv.Open(ct[:0], kp.recvNonce[:], ct, header)
	if err != nil {
		return nil, DropAuth, false
	}
	kp.window.Accept(h.Counter)
	return pt, 0, true
}

// handshake is one Noise handshake in progress. An initiator's lives in its
// peer (p.hs) and p.mu guards it; a responder's lives only in the index table
// until it completes, guarded by c.mu, except while a goroutine that set
// busy works on it.
type handshake struct {
	state       *noise.HandshakeState
	ik          bool
	initiator   bool
	rekey       bool // started to replace a live session
	localIndex  uint32
	remoteIndex uint32 // responder: the initiator's index
	addr        netip.AddrPort
	started     time.Time // initiator: when the initiation went; responder: when it came

	// Initiator only.
	remoteKey keys.PublicKey    // IK: the key we expect
	mac1      [wire.MACLen]byte // of our initiation: a cookie reply's additional data
	hadCookie bool              // our initiation carried a mac2

	// Responder only.
	pending *keypair // IK: the session, awaiting its first packet
	busy    bool     // claimed by a goroutine processing a message for it
}

// peer is everything about one peer.
type peer struct {
	// addr is the peer's handle: the address the layer above knows it by
	// (ReadFrom, WriteTo), fixed for the peer's life.
	addr netip.AddrPort
	// endpoint is where it is now: where we send, and where its datagrams
	// must come from, unless they prove it moved (roaming). Written with
	// p.mu and c.mu held, so either lock makes reading it safe.
	endpoint netip.AddrPort

	// mu guards the fields below, and the keypairs and handshake they hold.
	// Lock order: p.mu before c.mu.
	mu      sync.Mutex
	removed bool // dropped from the table by the sweep: look it up again

	hs       *handshake // our handshake in progress
	lastInit time.Time  // when we last sent an initiation
	ikTries  int        // IK initiations since the last completed handshake

	current *keypair   // what we send with
	keys    []*keypair // every keypair that still accepts data (current included)

	queue     [][]byte // packets waiting for a session; at most maxQueued
	cookie    [wire.MACLen]byte
	cookieAt  time.Time // when we got cookie; zero: none
	lastWrite time.Time // last WriteTo to this peer
	lastRecv  time.Time // last packet that authenticated
	// heard is when the peer last proved itself (UnixNano): a packet that
	// authenticated, or the handshake that made its session; when it was
	// made if neither. Atomic, so that a full table can pick whom to evict
	// holding c.mu alone (see Conn.peerFor).
	heard atomic.Int64
	// sendingSince is when we first sent after last hearing from the peer;
	// zero once we hear from it.
	sendingSince time.Time
	// lastRefusal is when Refuse last sent the peer a refusal.
	lastRefusal time.Time

	// buf is sealing scratch space: it starts at wire.MaxDatagram and grows
	// to the largest datagram sealed for the peer, so that a peer whose
	// path carries only the base size costs no more than that.
	buf []byte
}

// enqueue keeps a copy of pkt for when a session exists, dropping the oldest
// if the queue is full; it reports whether one was dropped.
func (p *peer) enqueue(pkt []byte) bool {
	dropped := false
	if len(p.queue) >= maxQueued {
		copy(p.queue, p.queue[1:])
		p.queue = p.queue[:len(p.queue)-1]
		dropped = true
	}
	p.queue = append(p.queue, append([]byte(nil), pkt...))
	return dropped
}
