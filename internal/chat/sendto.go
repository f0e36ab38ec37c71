package chat

import (
	"fmt"
	"net/netip"

	"github.com/udpchat/udpchat/internal/wire"
)

// SendTo sends text as one message to peer only (/msg in the terminal UI),
// returning (and emitting as a Sent event) what it queued. peer must be in
// the conversation. It goes through the outbox like Send. A peer whose
// features say it can (wire.FeatureDirect) is told the message is for it
// alone; an older one sees an ordinary message.
func (n *Node) SendTo(peer netip.AddrPort, text string) (Sent, error) {
	if !peer.IsValid() || peer.Port() == 0 {
		return Sent{}, fmt.Errorf("send to %s: not a peer address", peer)
	}
	sent, err := n.sendMessage(wire.ChatDirect, text, peer)
	if len(sent) == 0 {
		return Sent{}, err
	}
	return sent[0], err
}
