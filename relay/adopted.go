package relay

// adopted records the deliveries a session adopted from the unclaimed ones
// before its start in channel order, where the range it has sent says
// nothing, so that it never sends one twice: an adoption pass may read a
// delivery as unclaimed just before its ack lands. An acked one is
// forgotten once no pass that may have read it is running. Guarded by the
// session's mu; the zero value holds nothing and costs nothing (an idle
// session has no map).
type adopted struct {
	seqs    map[int64]bool // true once acked and claimed
	reading bool           // an adoption pass is running
}

// add records seq, sent by adoption.
func (a *adopted) add(seq int64) {
	if a.seqs == nil {
		a.seqs = map[int64]bool{}
	}
	a.seqs[seq] = false
}

func (a *adopted) has(seq int64) bool {
	_, ok := a.seqs[seq]
	return ok
}

// acked notes that seq's ack was claimed: no read that begins from now on
// returns it.
func (a *adopted) acked(seq int64) {
	if _, ok := a.seqs[seq]; !ok {
		return
	}
	if a.reading {
		a.seqs[seq] = true
		return
	}
	a.forget(seq)
}

// begin and end bracket an adoption pass.
func (a *adopted) begin() { a.reading = true }

func (a *adopted) end() {
	a.reading = false
	for seq, acked := range a.seqs {
		if acked {
			a.forget(seq)
		}
	}
}

// forget drops seq, and the map once it is empty: a map keeps its size
// when emptied. What stays unacked is at most a window's worth.
func (a *adopted) forget(seq int64) {
	delete(a.seqs, seq)
	if len(a.seqs) == 0 {
		a.seqs = nil
	}
}
