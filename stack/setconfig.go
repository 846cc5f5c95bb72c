package stack

import "github.com/synfin/synfin/tcp"

// SetConfig replaces the stack's TCP configuration, as writing a sysctl
// does: connections opened from now on use the new values, existing ones
// keep those they started with. The packetdrill runner uses it for the
// sysctls a script sets once its stack runs.
func (s *Stack) SetConfig(c tcp.Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg = &c
	s.challenge.PerSecond = c.ChallengeAckLimit
	return nil
}
