// Package freeport picks TCP ports on 127.0.0.1 for tests that must name
// a port before a server takes it (the nodes of a NATS cluster name each
// other's route ports). A port picked with ":0" comes from the kernel's
// ephemeral range, where any outgoing connection of a test running beside
// can take it between the pick and the bind (seen in CI: "bind: address
// already in use"); these come from below that range, where only other
// picks land.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
)

// below the ephemeral range (Linux: 32768-60999; macOS, Windows: 49152-)
const lo, hi = 20000, 32000

// Ports returns n distinct ports free on 127.0.0.1 when picked.
func Ports(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for p, tries := lo+rand.IntN(hi-lo), 0; len(ports) < n; p, tries = lo+(p-lo+1)%(hi-lo), tries+1 {
		if tries == hi-lo {
			return nil, fmt.Errorf("freeport: no %d free ports in %d-%d", n, lo, hi)
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue // taken
		}
		ls = append(ls, l)
		ports = append(ports, p)
	}
	return ports, nil
}

// Addr returns one free 127.0.0.1:port.
func Addr() (string, error) {
	ps, err := Ports(1)
	if err != nil {
		return "", err
	}
	return "127.0.0.1:" + strconv.Itoa(ps[0]), nil
}
