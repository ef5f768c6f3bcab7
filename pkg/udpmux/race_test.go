//go:build !js && race

package udpmux

// raceEnabled says the tests run under the race detector, which makes pion
// sessions several times slower: heavy tests scale down.
const raceEnabled = true
