package wire

import (
	"fmt"
	"unicode/utf8"
)

// File messages move one file from a sender to a receiver. Each is the
// payload of one reliable transport message, like a chat message, and
// starts the same way: a kind byte (16 to 22, beside the chat's 1 to 5, so
// a receiver that predates them drops them as unknown chat kinds) and the
// 16-byte transfer ID the sender chose for the offer.
//
//	offer    kind | ID (16) | root (32) | size (varint) | block shift (1) | n (1) | name (n)
//	accept   kind | ID (16)
//	decline  kind | ID (16) | reason (1)
//	request  kind | ID (16) | count (1) | count × (first block (varint), blocks (varint))
//	block    kind | ID (16) | index (varint) | m (1) | m × proof hash (32) | data (rest)
//	cancel   kind | ID (16) | reason (1)
//	done     kind | ID (16) | root (32)
//
// The root names the content: the BLAKE2b-256 Merkle root of its blocks
// (docs/PROTOCOL.md, "Files", says how it is computed, and how a block's
// proof leads from the block to it).
const (
	FileOffer   = 16
	FileAccept  = 17
	FileDecline = 18
	FileRequest = 19
	FileBlock   = 20
	FileCancel  = 21
	FileDone    = 22
)

// File message limits.
const (
	FileIDLen   = 16
	FileHashLen = 32
	// MinFileBlockShift and MaxFileBlockShift bound the block size, a
	// power of two: 4 KiB to 128 KiB. The largest block with the longest
	// proof and its header stays inside MaxMessageLen.
	MinFileBlockShift = 12
	MaxFileBlockShift = 17
	// DefaultFileBlockShift is the block size senders use: 64 KiB.
	DefaultFileBlockShift = 16
	// MaxFileNameLen bounds an offer's name, in bytes of UTF-8.
	MaxFileNameLen = 255
	// MaxFileRanges bounds the ranges of one request.
	MaxFileRanges = 32
	// MaxFileProof bounds a block's proof: one hash per level of the tree.
	// 2^62 bytes in blocks of 4 KiB make 2^50 blocks, a tree 50 levels high.
	MaxFileProof = 64
	// MaxFileBlockMessageLen is the longest block message.
	MaxFileBlockMessageLen = 1 + FileIDLen + 8 + 1 + MaxFileProof*FileHashLen + 1<<MaxFileBlockShift
)

var _ [MaxMessageLen - MaxFileBlockMessageLen]struct{} // a block message fits a transport message

// IsFileKind reports whether a message's first byte makes it a file message.
func IsFileKind(kind byte) bool { return kind >= FileOffer && kind <= FileDone }

// FileCancelReason says why a receiver declined an offer, or either side
// cancelled a transfer. A receiver shows reasons it does not know as
// FileReasonOther.
type FileCancelReason uint8

const (
	FileReasonOther         FileCancelReason = 0 // none of the below
	FileReasonUser          FileCancelReason = 1 // the person declined or cancelled it
	FileReasonTooBig        FileCancelReason = 2 // over the receiver's limit
	FileReasonSourceChanged FileCancelReason = 3 // the sender's file changed since the offer
	FileReasonBadBlock      FileCancelReason = 4 // a block did not match the offer's root
	FileReasonLocalError    FileCancelReason = 5 // a disk or other local failure
)

// FileOfferMessage offers a file.
type FileOfferMessage struct {
	ID   [FileIDLen]byte
	Root [FileHashLen]byte
	Size uint64
	// BlockShift is log2 of the block size.
	BlockShift uint8
	// Name is what the sender calls the file: a name, not a path. The
	// receiver sanitizes it all the same.
	Name string
}

// BlockSize is the offer's block size in bytes.
func (o FileOfferMessage) BlockSize() int { return 1 << o.BlockShift }

// Blocks is the number of blocks of the offered file: the last may be short.
func (o FileOfferMessage) Blocks() uint64 {
	return (o.Size + uint64(o.BlockSize()) - 1) >> o.BlockShift
}

// AppendFileOffer appends o's encoding to b.
func AppendFileOffer(b []byte, o FileOfferMessage) ([]byte, error) {
	if err := o.validate(); err != nil {
		return b, err
	}
	b = append(b, FileOffer)
	b = append(b, o.ID[:]...)
	b = append(b, o.Root[:]...)
	b = AppendVarint(b, o.Size)
	b = append(b, o.BlockShift, byte(len(o.Name)))
	return append(b, o.Name...), nil
}

// ParseFileOffer decodes an offer.
func ParseFileOffer(b []byte) (FileOfferMessage, error) {
	var o FileOfferMessage
	rest, err := fileHeader(b, FileOffer, o.ID[:])
	if err != nil {
		return o, err
	}
	if len(rest) < FileHashLen {
		return o, ErrTruncated
	}
	copy(o.Root[:], rest)
	rest = rest[FileHashLen:]
	size, n, err := ParseVarint(rest)
	if err != nil {
		return o, err
	}
	rest = rest[n:]
	if len(rest) < 2 {
		return o, ErrTruncated
	}
	o.Size, o.BlockShift = size, rest[0]
	if len(rest[2:]) != int(rest[1]) {
		return o, fmt.Errorf("%w: a name of %d bytes in an offer of %d", ErrMalformed, rest[1], len(rest[2:]))
	}
	o.Name = string(rest[2:])
	if err := o.validate(); err != nil {
		return FileOfferMessage{}, err
	}
	return o, nil
}

func (o FileOfferMessage) validate() error {
	if o.BlockShift < MinFileBlockShift || o.BlockShift > MaxFileBlockShift {
		return fmt.Errorf("%w: a block size of 2^%d (must be 2^%d to 2^%d)", ErrMalformed, o.BlockShift, MinFileBlockShift, MaxFileBlockShift)
	}
	if o.Size > MaxVarint {
		return fmt.Errorf("%w: a file of %d bytes", ErrTooBig, o.Size)
	}
	if len(o.Name) == 0 || len(o.Name) > MaxFileNameLen || !utf8.ValidString(o.Name) {
		return fmt.Errorf("%w: a file name must be 1 to %d bytes of UTF-8", ErrMalformed, MaxFileNameLen)
	}
	return nil
}

// FileRange is a run of blocks: Count blocks from First.
type FileRange struct{ First, Count uint64 }

// FileRequestMessage asks the sender for blocks. Its ranges are in
// ascending order and do not overlap.
type FileRequestMessage struct {
	ID     [FileIDLen]byte
	Ranges []FileRange
}

// AppendFileRequest appends r's encoding to b.
func AppendFileRequest(b []byte, r FileRequestMessage) ([]byte, error) {
	if err := validRanges(r.Ranges); err != nil {
		return b, err
	}
	b = append(b, FileRequest)
	b = append(b, r.ID[:]...)
	b = append(b, byte(len(r.Ranges)))
	for _, rg := range r.Ranges {
		b = AppendVarint(b, rg.First)
		b = AppendVarint(b, rg.Count)
	}
	return b, nil
}

// ParseFileRequest decodes a request.
func ParseFileRequest(b []byte) (FileRequestMessage, error) {
	var r FileRequestMessage
	rest, err := fileHeader(b, FileRequest, r.ID[:])
	if err != nil {
		return r, err
	}
	if len(rest) < 1 {
		return r, ErrTruncated
	}
	count := int(rest[0])
	rest = rest[1:]
	r.Ranges = make([]FileRange, 0, min(count, MaxFileRanges))
	for range count {
		var rg FileRange
		var n int
		if rg.First, n, err = ParseVarint(rest); err != nil {
			return FileRequestMessage{}, err
		}
		rest = rest[n:]
		if rg.Count, n, err = ParseVarint(rest); err != nil {
			return FileRequestMessage{}, err
		}
		rest = rest[n:]
		r.Ranges = append(r.Ranges, rg)
		if len(r.Ranges) > MaxFileRanges {
			break // validRanges says why
		}
	}
	if err := validRanges(r.Ranges); err != nil {
		return FileRequestMessage{}, err
	}
	if len(rest) != 0 {
		return FileRequestMessage{}, fmt.Errorf("%w: %d bytes after a request's ranges", ErrMalformed, len(rest))
	}
	return r, nil
}

func validRanges(rs []FileRange) error {
	if len(rs) == 0 || len(rs) > MaxFileRanges {
		return fmt.Errorf("%w: a request of %d ranges (must be 1 to %d)", ErrMalformed, len(rs), MaxFileRanges)
	}
	var next uint64
	for i, rg := range rs {
		if rg.Count == 0 || rg.First > MaxVarint-rg.Count {
			return fmt.Errorf("%w: range %d of a request is empty or ends past 2^62", ErrMalformed, i)
		}
		if i > 0 && rg.First < next {
			return fmt.Errorf("%w: range %d of a request is out of order or overlaps", ErrMalformed, i)
		}
		next = rg.First + rg.Count
	}
	return nil
}

// FileBlockMessage carries one block and the proof that it belongs to the
// offer's root.
type FileBlockMessage struct {
	ID    [FileIDLen]byte
	Index uint64
	// Proof is the block's audit path, from the leaf's sibling up.
	Proof [][FileHashLen]byte
	// Data is the block. ParseFileBlock does not copy it: it aliases the
	// parsed message.
	Data []byte
}

// AppendFileBlock appends k's encoding to b.
func AppendFileBlock(b []byte, k FileBlockMessage) ([]byte, error) {
	if err := k.validate(); err != nil {
		return b, err
	}
	b = append(b, FileBlock)
	b = append(b, k.ID[:]...)
	b = AppendVarint(b, k.Index)
	b = append(b, byte(len(k.Proof)))
	for _, h := range k.Proof {
		b = append(b, h[:]...)
	}
	return append(b, k.Data...), nil
}

// ParseFileBlock decodes a block message; the result's Data aliases b.
func ParseFileBlock(b []byte) (FileBlockMessage, error) {
	var k FileBlockMessage
	rest, err := fileHeader(b, FileBlock, k.ID[:])
	if err != nil {
		return k, err
	}
	idx, n, err := ParseVarint(rest)
	if err != nil {
		return k, err
	}
	rest = rest[n:]
	if len(rest) < 1 {
		return k, ErrTruncated
	}
	m := int(rest[0])
	rest = rest[1:]
	if m > MaxFileProof {
		return k, fmt.Errorf("%w: a proof of %d hashes (the limit is %d)", ErrMalformed, m, MaxFileProof)
	}
	if len(rest) < m*FileHashLen {
		return k, ErrTruncated
	}
	k.Index = idx
	k.Proof = make([][FileHashLen]byte, m)
	for i := range k.Proof {
		copy(k.Proof[i][:], rest[i*FileHashLen:])
	}
	k.Data = rest[m*FileHashLen:]
	if err := k.validate(); err != nil {
		return FileBlockMessage{}, err
	}
	return k, nil
}

func (k FileBlockMessage) validate() error {
	if k.Index > MaxVarint {
		return fmt.Errorf("%w: block index %d", ErrMalformed, k.Index)
	}
	if len(k.Proof) > MaxFileProof {
		return fmt.Errorf("%w: a proof of %d hashes (the limit is %d)", ErrMalformed, len(k.Proof), MaxFileProof)
	}
	if len(k.Data) == 0 {
		return fmt.Errorf("%w: a block with no data", ErrMalformed)
	}
	if len(k.Data) > 1<<MaxFileBlockShift {
		return fmt.Errorf("%w: a block of %d bytes", ErrTooBig, len(k.Data))
	}
	return nil
}

// FileControlMessage is an accept, decline, cancel or done: the messages
// that carry no more than a reason or a root.
type FileControlMessage struct {
	Kind uint8 // FileAccept, FileDecline, FileCancel or FileDone
	ID   [FileIDLen]byte
	// Reason is a decline's or a cancel's.
	Reason FileCancelReason
	// Root is a done's: the receiver has the whole file, and it hashes to this.
	Root [FileHashLen]byte
}

// AppendFileControl appends c's encoding to b.
func AppendFileControl(b []byte, c FileControlMessage) ([]byte, error) {
	if err := c.validate(); err != nil {
		return b, err
	}
	b = append(b, c.Kind)
	b = append(b, c.ID[:]...)
	switch c.Kind {
	case FileDecline, FileCancel:
		b = append(b, byte(c.Reason))
	case FileDone:
		b = append(b, c.Root[:]...)
	}
	return b, nil
}

// ParseFileControl decodes an accept, decline, cancel or done.
func ParseFileControl(b []byte) (FileControlMessage, error) {
	var c FileControlMessage
	if len(b) < 1 {
		return c, ErrTruncated
	}
	c.Kind = b[0]
	rest, err := fileHeader(b, c.Kind, c.ID[:])
	if err != nil {
		return FileControlMessage{}, err
	}
	want := 0
	switch c.Kind {
	case FileAccept:
	case FileDecline, FileCancel:
		want = 1
	case FileDone:
		want = FileHashLen
	default:
		return FileControlMessage{}, fmt.Errorf("%w: file kind %d is not a control message", ErrType, c.Kind)
	}
	if len(rest) < want {
		return FileControlMessage{}, ErrTruncated
	}
	if len(rest) > want {
		return FileControlMessage{}, fmt.Errorf("%w: %d bytes after a file control message", ErrMalformed, len(rest)-want)
	}
	switch want {
	case 1:
		c.Reason = FileCancelReason(rest[0])
	case FileHashLen:
		copy(c.Root[:], rest)
	}
	return c, nil
}

func (c FileControlMessage) validate() error {
	switch c.Kind {
	case FileAccept, FileDecline, FileCancel, FileDone:
		return nil
	}
	return fmt.Errorf("%w: file kind %d is not a control message", ErrType, c.Kind)
}

// fileHeader checks a file message's kind byte against kind, copies its
// transfer ID into id and returns what follows.
func fileHeader(b []byte, kind uint8, id []byte) ([]byte, error) {
	if len(b) < 1+FileIDLen {
		return nil, ErrTruncated
	}
	if b[0] != kind {
		return nil, fmt.Errorf("%w: file kind %d where %d was expected", ErrType, b[0], kind)
	}
	copy(id, b[1:1+FileIDLen])
	return b[1+FileIDLen:], nil
}
