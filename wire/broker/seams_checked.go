//go:build troupecheck

package broker

// seams are the hooks this package's tests reach into. They exist only in checked builds
// (-tags troupecheck, as the house test command builds); otherwise seams is an empty
// struct and every hook an empty method the compiler inlines away (seams_unchecked.go).
type seams struct {
	// handedOver, if set, is called by a connection's writer after it hands a call that
	// expects a response to the reader and before it encodes it: the window the writing
	// token guards (see conn.writeQueued).
	handedOver func(*Call)
	// released, if set, is called by a connection's writer after it gave back the buffers
	// it grew for a burst (conn.release), with the write buffer's capacity before and
	// after.
	released func(before, after int)
}

// released calls the released seam, if set.
func (c *conn) released(before, after int) {
	if h := c.cfg.seams.released; h != nil {
		h(before, after)
	}
}

// handedOver calls the handedOver seam, if set, for a call that expects a response.
func (c *conn) handedOver(call *Call) {
	if h := c.cfg.seams.handedOver; h != nil && !call.NoResponse {
		h(call)
	}
}
