//go:build !race

package membership

const (
	protoactorRaces = ""
	raceDetector    = false
)
