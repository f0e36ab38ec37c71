package wire

import (
	"errors"
	"slices"
	"testing"
)

func TestMailReceiptRoundTrip(t *testing.T) {
	ids := [][16]byte{{1, 2, 3}, {15: 9}}
	b, err := AppendMailReceipt(nil, ids)
	if err != nil || len(b) != 1+32 || !IsMailReceipt(b) {
		t.Fatalf("AppendMailReceipt = %x, %v", b, err)
	}
	back, err := ParseMailReceipt(b)
	if err != nil || !slices.Equal(back, ids) {
		t.Fatalf("ParseMailReceipt = %x, %v; want %x", back, err, ids)
	}
	chat, _ := AppendChat(nil, ChatMessage{Kind: ChatText, Name: "alice", Text: "hi"})
	if IsMailReceipt(chat) {
		t.Error("a chat message is taken for a receipt")
	}
}

func TestMailReceiptBad(t *testing.T) {
	if _, err := AppendMailReceipt(nil, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("a receipt of no IDs: %v", err)
	}
	if _, err := AppendMailReceipt(nil, make([][16]byte, MaxReceiptIDs+1)); !errors.Is(err, ErrMalformed) {
		t.Errorf("a receipt of too many IDs: %v", err)
	}
	for _, b := range [][]byte{nil, {MailReceipt}, {MailReceipt, 1, 2}, append([]byte{MailReceipt}, make([]byte, 16*(MaxReceiptIDs+1))...), {ChatRoom, 1}} {
		if _, err := ParseMailReceipt(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseMailReceipt(%x) = %v, want ErrMalformed", b, err)
		}
	}
}

func FuzzParseMailReceipt(f *testing.F) {
	b, _ := AppendMailReceipt(nil, [][16]byte{{1}})
	f.Add(b)
	f.Add([]byte{MailReceipt})
	f.Fuzz(func(t *testing.T, b []byte) {
		ids, err := ParseMailReceipt(b)
		if err != nil {
			return
		}
		again, err := AppendMailReceipt(nil, ids)
		if err != nil || string(again) != string(b) {
			t.Fatalf("%x parsed to %x, which appends as %x, %v", b, ids, again, err)
		}
	})
}
