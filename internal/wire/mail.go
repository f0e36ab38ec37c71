package wire

import (
	"fmt"
)

// What a chat puts in a relay mailbox (sealed for the recipient; see
// relay.SealMail) is one of two things:
//
//   - a chat message (ChatText, ChatAction or ChatDirect): the very payload
//     the link would have carried, its message ID and all, for someone who
//     was not reachable;
//   - a receipt, for the sender of such mail once it is on our disk:
//
//     0        1                       1+16n
//     +--------+-----------------------+
//     | 25     | message IDs (16 each) |
//     +--------+-----------------------+
//
// A receipt names between 1 and MaxReceiptIDs of the sender's messages.

// MailReceipt is the first byte of a receipt mail.
const MailReceipt = 25

// MaxReceiptIDs is the most message IDs one receipt carries: it fits a
// sealed mail (relay.MaxMailMessage, 1032 bytes) with room to spare.
const MaxReceiptIDs = 60

// IsMailReceipt says whether b, an opened mail, is a receipt.
func IsMailReceipt(b []byte) bool { return len(b) > 0 && b[0] == MailReceipt }

// AppendMailReceipt appends a receipt for ids to b.
func AppendMailReceipt(b []byte, ids [][16]byte) ([]byte, error) {
	if len(ids) == 0 || len(ids) > MaxReceiptIDs {
		return b, fmt.Errorf("%w: a receipt of %d message IDs (1 to %d)", ErrMalformed, len(ids), MaxReceiptIDs)
	}
	b = append(b, MailReceipt)
	for _, id := range ids {
		b = append(b, id[:]...)
	}
	return b, nil
}

// ParseMailReceipt returns the message IDs a receipt names.
func ParseMailReceipt(b []byte) ([][16]byte, error) {
	if !IsMailReceipt(b) {
		return nil, fmt.Errorf("%w: not a receipt", ErrMalformed)
	}
	b = b[1:]
	if len(b) == 0 || len(b)%16 != 0 || len(b)/16 > MaxReceiptIDs {
		return nil, fmt.Errorf("%w: a receipt of %d bytes of IDs", ErrMalformed, len(b))
	}
	ids := make([][16]byte, len(b)/16)
	for i := range ids {
		copy(ids[i][:], b[16*i:])
	}
	return ids, nil
}
