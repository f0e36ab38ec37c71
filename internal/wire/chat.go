package wire

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// A chat message is the payload of one reliable transport message:
//
//	 0      1                    17     18          18+n
//	+------+--------------------+------+-----------+----------------+
//	| kind | message ID (16)    | n    | name (n)  | text (rest)    |
//	+------+--------------------+------+-----------+----------------+
//
// The name and the text are UTF-8. A hello carries the name and no text; a
// features message, which follows it, the sender's features as its text.
const (
	ChatHeaderLen = 1 + 16 + 1
	MaxNameLen    = 64        // bytes of UTF-8
	MaxTextLen    = 256 << 10 // bytes of UTF-8: the largest message a user may send
	// MaxChatMessageLen is the largest chat payload; the transport must carry it whole.
	MaxChatMessageLen = ChatHeaderLen + MaxNameLen + MaxTextLen
)

// ChatKind says what a chat message is.
type ChatKind uint8

const (
	ChatHello  ChatKind = 1 // introduces the sender (or its new name); no text
	ChatText   ChatKind = 2 // an ordinary message
	ChatAction ChatKind = 3 // a /me action
	// ChatDirect is a message sent to the receiver alone (/msg), where
	// ChatText goes to everyone in the conversation. A receiver older than
	// it drops it (an unknown kind), so it goes only to peers whose
	// features say FeatureDirect; others get the text as ChatText.
	ChatDirect ChatKind = 4
	// ChatFeatures lists, as its text, the features the sender's udpchat
	// has: words separated by spaces, unknown ones ignored. It follows each
	// hello. A receiver older than it drops it, which is all it must do:
	// it is a separate kind, and not part of the hello, for that reason.
	ChatFeatures ChatKind = 5
)

// FeatureDirect, in a ChatFeatures message, says its sender shows a
// ChatDirect message as one sent to it alone.
const FeatureDirect = "direct"

// FeatureSendOnly, in a ChatFeatures message, says its sender only sends
// (udpchat send) and will be gone soon: the receiver shows what it says but
// never makes it a recipient of its own messages, which would wait for it
// after it has gone.
const FeatureSendOnly = "send-only"

// MaxFeaturesLen bounds a ChatFeatures message's text: it is a few words.
const MaxFeaturesLen = 255

// HasFeature reports whether feature is among the words of features, a
// ChatFeatures message's text.
func HasFeature(features, feature string) bool {
	for f := range strings.FieldsSeq(features) {
		if f == feature {
			return true
		}
	}
	return false
}

// ChatMessage is the decoded form of a chat payload.
type ChatMessage struct {
	Kind ChatKind
	ID   [16]byte
	Name string
	Text string
}

// AppendChat appends m's encoding to b. It fails if the name or the text is
// too long or not UTF-8, or the kind is unknown.
func AppendChat(b []byte, m ChatMessage) ([]byte, error) {
	if err := m.validate(); err != nil {
		return b, err
	}
	b = append(b, byte(m.Kind))
	b = append(b, m.ID[:]...)
	b = append(b, byte(len(m.Name)))
	b = append(b, m.Name...)
	return append(b, m.Text...), nil
}

// ParseChat decodes a chat payload.
func ParseChat(b []byte) (ChatMessage, error) {
	if len(b) < ChatHeaderLen {
		return ChatMessage{}, ErrTruncated
	}
	var m ChatMessage
	m.Kind = ChatKind(b[0])
	copy(m.ID[:], b[1:17])
	n := int(b[17])
	if len(b) < ChatHeaderLen+n {
		return ChatMessage{}, ErrTruncated
	}
	m.Name = string(b[ChatHeaderLen : ChatHeaderLen+n])
	m.Text = string(b[ChatHeaderLen+n:])
	if err := m.validate(); err != nil {
		return ChatMessage{}, err
	}
	return m, nil
}

func (m ChatMessage) validate() error {
	switch m.Kind {
	case ChatHello, ChatText, ChatAction, ChatDirect, ChatFeatures:
	default:
		return fmt.Errorf("%w: chat kind %d", ErrType, m.Kind)
	}
	if len(m.Name) == 0 || len(m.Name) > MaxNameLen || !utf8.ValidString(m.Name) {
		return fmt.Errorf("%w: name must be 1 to %d bytes of UTF-8", ErrMalformed, MaxNameLen)
	}
	if m.Kind == ChatHello && m.Text != "" {
		return fmt.Errorf("%w: a hello carries no text", ErrMalformed)
	}
	if m.Kind == ChatFeatures && len(m.Text) > MaxFeaturesLen {
		return fmt.Errorf("%w: features of %d bytes (the limit is %d)", ErrMalformed, len(m.Text), MaxFeaturesLen)
	}
	if len(m.Text) > MaxTextLen {
		return fmt.Errorf("%w: text of %d bytes (the limit is %d)", ErrTooBig, len(m.Text), MaxTextLen)
	}
	if !utf8.ValidString(m.Text) {
		return fmt.Errorf("%w: text is not UTF-8", ErrMalformed)
	}
	return nil
}
