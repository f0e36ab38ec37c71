package chat

import (
	"fmt"
	"net/netip"

	"github.com/udpchat/udpchat/internal/wire"
)

// SendTo sends text as one message to peer only (/msg in the terminal UI),
// returning (and emitting as a Sent event) what it queued. peer must be in
// the conversation. It goes through the outbox like Send. The peer sees an
// ordinary message: the wire has no mark for private ones.
func (n *Node) SendTo(peer netip.AddrPort, text string) (Sent, error) {
	if !peer.IsValid() || peer.Port() == 0 {
		return Sent{}, fmt.Errorf("send to %s: not a peer address", peer)
	}
	sent, err := n.sendMessage(wire.ChatText, text, peer)
	if len(sent) == 0 {
		return Sent{}, err
	}
	return sent[0], err
}
