//! The connection wrapper that lets a handler take over the socket: when a fault asks for a
//! broken answer, the wrapper writes exactly the chosen bytes instead of hyper's response, then
//! closes (cleanly or with a reset) so hyper abandons the connection.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// How a taken-over connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// FIN after the bytes: the peer sees a clean end of stream.
    Close,
    /// RST after the bytes (`SO_LINGER` 0).
    Reset,
}

/// The bytes to write in place of the response, and how to end.
#[derive(Debug)]
pub(crate) struct Takeover {
    bytes: Bytes,
    written: usize,
    ending: Ending,
    finished: bool,
}

/// Shared between a connection's service (which arms it) and its I/O (which performs it).
#[derive(Debug, Clone, Default)]
pub(crate) struct TakeoverSlot(Arc<Mutex<Option<Takeover>>>);

impl TakeoverSlot {
    /// Replaces the next response on this connection with `bytes`, then ends it.
    pub(crate) fn arm(&self, bytes: Bytes, ending: Ending) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(Takeover {
            bytes,
            written: 0,
            ending,
            finished: false,
        });
    }
}

/// A TCP stream whose writes can be taken over.
#[derive(Debug)]
pub(crate) struct ConnIo {
    stream: TcpStream,
    slot: TakeoverSlot,
}

impl ConnIo {
    pub(crate) fn new(stream: TcpStream, slot: TakeoverSlot) -> Self {
        Self { stream, slot }
    }

    /// `Ready(Ok)` when no takeover is armed; otherwise drives it and then fails every write.
    fn drive_takeover(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut guard = self.slot.0.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(takeover) = guard.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        if !takeover.finished {
            while takeover.written < takeover.bytes.len() {
                let rest = &takeover.bytes[takeover.written..];
                match ready!(Pin::new(&mut self.stream).poll_write(cx, rest)) {
                    Ok(0) => break,
                    Ok(n) => takeover.written += n,
                    Err(_) => break,
                }
            }
            match takeover.ending {
                Ending::Reset => {
                    let _ = self.stream.set_zero_linger();
                }
                Ending::Close => {
                    let _ = ready!(Pin::new(&mut self.stream).poll_shutdown(cx));
                }
            }
            takeover.finished = true;
        }
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "simulated fault: connection closed",
        )))
    }
}

impl AsyncRead for ConnIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ConnIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.drive_takeover(cx))?;
        Pin::new(&mut this.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.drive_takeover(cx))?;
        Pin::new(&mut this.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.drive_takeover(cx))?;
        Pin::new(&mut this.stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.drive_takeover(cx))?;
        Pin::new(&mut this.stream).poll_shutdown(cx)
    }
}
