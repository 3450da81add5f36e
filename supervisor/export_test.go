package supervisor

import "time"

// NextDue is, for tests, when the supervisor's loop has its alarm set for (zero: not
// armed). Read it only while the loop is blocked (after synctest.Wait).
func (s *Supervisor) NextDue() time.Time { return s.nextDue() }
