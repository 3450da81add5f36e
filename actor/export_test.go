package actor

// What the library reaches through internal/actorhook, and the mailbox's own view of
// itself, as methods for this package's tests.

func (mb *Mailbox[M]) Suspend(err error) { mb.suspend(err) }
func (mb *Mailbox[M]) Resume()           { mb.resume() }
func (mb *Mailbox[M]) DropQueued()       { mb.dropQueued() }
func (mb *Mailbox[M]) Discard()          { mb.discard() }
func (mb *Mailbox[M]) Close()            { mb.close() }
func (mb *Mailbox[M]) Len() int          { return mb.queued() }
func (mb *Mailbox[M]) Cap() int          { return mb.limit }

func (p *Process) BeginStop()   { p.beginStop() }
func (p *Process) BeginCancel() { p.beginCancel() }
