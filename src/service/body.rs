//! [`AuthBody`]: the body of the layer's responses, the inner service's body or the layer's
//! own answer.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project::pin_project;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The response body of [`AnonymousAuth`](crate::AnonymousAuth): the inner service's body,
/// or the layer's own answer (a 429 or 503 page, in JSON or HTML). axum converts it like any
/// other body; with hyper it is served as is.
///
/// ```
/// use bytes::Bytes;
/// use http_body_util::{BodyExt, Full};
/// use tower_anonymous_auth::body::AuthBody;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let body = AuthBody::from_inner(Full::new(Bytes::from("hello")));
/// assert_eq!(body.collect().await.unwrap().to_bytes(), "hello");
/// # });
/// ```
#[pin_project]
#[derive(Debug)]
pub struct AuthBody<B> {
    #[pin]
    kind: Kind<B>,
}

#[pin_project(project = KindProj)]
#[derive(Debug)]
enum Kind<B> {
    Inner {
        #[pin]
        body: B,
    },
    /// Taken when polled: the layer's answer is one frame.
    Answer { bytes: Option<Bytes> },
}

impl<B> AuthBody<B> {
    /// The inner service's body, passed through.
    ///
    /// ```
    /// # use tower_anonymous_auth::body::AuthBody;
    /// let body = AuthBody::from_inner(String::from("passed through"));
    /// # let _ = body;
    /// ```
    pub fn from_inner(body: B) -> Self {
        Self {
            kind: Kind::Inner { body },
        }
    }

    /// The layer's own answer.
    pub(crate) fn answer(bytes: Bytes) -> Self {
        Self {
            kind: Kind::Answer { bytes: Some(bytes) },
        }
    }
}

impl<B: Body<Data = Bytes>> Body for AuthBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.project().kind.project() {
            KindProj::Inner { body } => body.poll_frame(cx),
            KindProj::Answer { bytes } => Poll::Ready(
                bytes
                    .take()
                    .filter(|b| !b.is_empty())
                    .map(|b| Ok(Frame::data(b))),
            ),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Answer { bytes } => bytes.as_ref().is_none_or(Bytes::is_empty),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } => body.size_hint(),
            Kind::Answer { bytes } => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_one_frame_of_its_exact_size() {
        let mut body = std::pin::pin!(AuthBody::<String>::answer(Bytes::from_static(b"{}")));
        assert_eq!(body.size_hint().exact(), Some(2));
        assert!(!body.is_end_stream());
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let Poll::Ready(Some(Ok(frame))) = body.as_mut().poll_frame(&mut cx) else {
            panic!("one data frame");
        };
        assert_eq!(frame.into_data().unwrap(), "{}");
        assert!(body.is_end_stream());
        assert!(matches!(body.poll_frame(&mut cx), Poll::Ready(None)));
    }
}
