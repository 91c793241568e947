//! Calling any RPC of the contract with raw bytes, whatever its message
//! types: for tests that sweep every method (the access matrix, the fuzzing
//! of every command).

use bytes::{Buf as _, BufMut as _, Bytes};
use prost::Message as _;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

/// One RPC of the contract.
#[derive(Debug, Clone)]
pub struct Method {
    /// `jigi.payments.v1.PaymentsService`.
    pub service: String,
    /// `ApprovePaymentCycle`.
    pub name: String,
    pub client_streaming: bool,
    pub server_streaming: bool,
}

impl Method {
    /// `/jigi.payments.v1.PaymentsService/ApprovePaymentCycle`.
    pub fn path(&self) -> String {
        format!("/{}/{}", self.service, self.name)
    }
}

/// Every method of `service` (e.g. `jigi.registry.v1.RegistryService`), read
/// from the compiled contract.
pub fn methods(service: &str) -> Vec<Method> {
    let set = prost_types::FileDescriptorSet::decode(jigi_proto::FILE_DESCRIPTOR_SET).expect("the contract decodes");
    let mut found = Vec::new();
    for file in &set.file {
        for declared in &file.service {
            let name = format!("{}.{}", file.package(), declared.name());
            if name != service {
                continue;
            }
            for method in &declared.method {
                found.push(Method {
                    service: name.clone(),
                    name: method.name().to_owned(),
                    client_streaming: method.client_streaming(),
                    server_streaming: method.server_streaming(),
                });
            }
        }
    }
    assert!(!found.is_empty(), "the contract has no service {service}");
    found
}

/// Passes message bytes through untouched.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// Calls `method` with `body` as its one request message (or its only
/// streamed message), carrying `token` if given; returns the status code.
pub async fn call(channel: &Channel, method: &Method, body: Bytes, token: Option<&str>) -> Status {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    if let Err(err) = grpc.ready().await {
        return Status::unavailable(err.to_string());
    }
    let path = PathAndQuery::try_from(method.path()).expect("a method path is a valid URI path");
    let with_token = |message| bearer(Request::new(message), token);
    let with_token_stream = |messages| bearer(Request::new(messages), token);
    let outcome = match (method.client_streaming, method.server_streaming) {
        (false, false) => grpc.unary(with_token(body), path, RawCodec).await.map(|_| ()),
        (true, false) => grpc
            .client_streaming(with_token_stream(tokio_stream::iter([body])), path, RawCodec)
            .await
            .map(|_| ()),
        (false, true) => match grpc.server_streaming(with_token(body), path, RawCodec).await {
            // A failure found while streaming comes with the first message.
            Ok(response) => response.into_inner().message().await.map(|_| ()),
            Err(status) => Err(status),
        },
        (true, true) => grpc
            .streaming(with_token_stream(tokio_stream::iter([body])), path, RawCodec)
            .await
            .map(|_| ()),
    };
    match outcome {
        Ok(()) => Status::ok(""),
        Err(status) => status,
    }
}

/// `request` with `authorization: Bearer <token>` when there is a token.
pub fn bearer<T>(mut request: Request<T>, token: Option<&str>) -> Request<T> {
    if let Some(token) = token {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("a token is ASCII"),
        );
    }
    request
}

/// Whether `status` is a refusal by the access layer.
pub fn is_refusal(code: Code) -> bool {
    matches!(code, Code::PermissionDenied | Code::Unauthenticated)
}
