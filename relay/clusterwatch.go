package relay

// What a relay node in a cluster (Config.Cluster) does beside the log
// (cluster.go): it follows the channel registry's changes and answers for
// its counters (clusterstats.go), from New to Close.

// watchCluster starts following other nodes' changes to the channels and
// answering hooktap.metrics; on a single relay, nothing.
func (s *Server) watchCluster() {
	if s.team != nil {
		s.team.registry.Watch(s.channelChanged)
	}
	if s.cfg.Cluster != nil {
		st, err := startClusterStats(s)
		if err != nil {
			s.log.Warn("cluster metrics: this node will not answer for its counters", "err", err)
			return
		}
		s.stats = st
	}
}

// unwatchCluster stops what watchCluster started.
func (s *Server) unwatchCluster() {
	if s.team != nil {
		s.team.registry.Close()
	}
	if s.stats != nil {
		s.stats.close()
	}
}
