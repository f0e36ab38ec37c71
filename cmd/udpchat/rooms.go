package main

import (
	"log/slog"
	"path/filepath"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/chat/roomchat"
	"github.com/udpchat/udpchat/internal/identity"
	"github.com/udpchat/udpchat/internal/rooms/roomstore"
	"github.com/udpchat/udpchat/internal/store"
)

// roomLabels is the file in the data dir that keeps this user's names for
// rooms (a room's ID is all its members share).
const roomLabels = "rooms.json"

// startRooms gives node its rooms: those in st, carried over its encrypted
// sessions, signed with the room signing key kept beside the identity.
func startRooms(node *chat.Node, enc *encryption, st *store.MessageDB, dataDir string, log *slog.Logger) (*roomchat.Bridge, error) {
	sign, err := identity.LoadSigning(dataDir)
	if err != nil {
		return nil, err
	}
	return roomchat.Start(roomchat.Config{Node: node, Self: enc.key.Public(), Sign: sign,
		Storage: roomstore.New(st), Labels: filepath.Join(dataDir, roomLabels), Logger: log})
}
