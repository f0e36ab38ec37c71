//go:build race

package secure

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// allocation counts that rely on a pool do not hold under -race.
const raceEnabled = true
