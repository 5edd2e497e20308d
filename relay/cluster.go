package relay

// What a relay node in a cluster (Config.Cluster) does beyond the log: it
// follows the channel registry, answers for its counters, and starts and
// stops these with the Server.

// watchCluster starts following other nodes' changes to the channels and
// answering metrics requests; nothing in one process.
func (s *Server) watchCluster() {
	if s.team != nil {
		s.team.registry.Watch(s.channelChanged)
	}
}

// unwatchCluster stops what watchCluster started.
func (s *Server) unwatchCluster() {
	if s.team != nil {
		s.team.registry.Close()
	}
}
