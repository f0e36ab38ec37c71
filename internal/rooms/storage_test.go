package rooms_test

import (
	"testing"

	"github.com/udpchat/udpchat/internal/rooms"
	"github.com/udpchat/udpchat/internal/rooms/storagetest"
)

// MemStorage behaves as every Storage must (the SQLite one runs the same
// tests in internal/rooms/roomstore). It lives as long as the process, so
// a restart finds it as it was.
func TestMemStorage(t *testing.T) {
	storagetest.Run(t, func(*testing.T) (rooms.Storage, func() rooms.Storage) {
		s := rooms.NewMemStorage()
		return s, func() rooms.Storage { return s }
	})
}
