//! Buffers reused across chunks (grown when a chunk needs more, never shrunk), and the
//! upload and readback helpers.

use std::sync::mpsc;

use bytemuck::Pod;

use super::GpuError;

/// One reusable buffer.
#[derive(Debug)]
pub(super) struct Slot {
    label: &'static str,
    usage: wgpu::BufferUsages,
    buffer: Option<wgpu::Buffer>,
}

impl Slot {
    fn new(label: &'static str, usage: wgpu::BufferUsages) -> Self {
        Slot {
            label,
            usage,
            buffer: None,
        }
    }

    /// The buffer, at least `bytes` long (a zero length is rounded up to one element, 16
    /// bytes, so that every binding has something to bind). Grows by doubling, up to `cap`.
    pub fn ensure(&mut self, device: &wgpu::Device, bytes: u64, cap: u64) -> &wgpu::Buffer {
        let bytes = bytes.max(16).next_multiple_of(16);
        let size = self.buffer.as_ref().map_or(0, |b| b.size());
        if size < bytes {
            let grown = (2 * size).min(cap).max(bytes);
            self.buffer = Some(device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(self.label),
                size: grown,
                usage: self.usage,
                mapped_at_creation: false,
            }));
        }
        self.buffer.as_ref().expect("allocated above")
    }
}

/// The buffers of the job kernels.
#[derive(Debug)]
pub(super) struct Buffers {
    pub config: Slot,
    /// The uniform of the sampling kernel's second (reversed) walk.
    pub config_reversed: Slot,
    pub slices: Slot,
    pub games: Slot,
    pub words: Slot,
    pub perms: Slot,
    pub scratch: Slot,
    pub marginals: Slot,
    pub moments: Slot,
    pub status: Slot,
    /// Two staging buffers: one chunk's results are read back from one while the next
    /// chunk's are copied into the other.
    pub staging: [Slot; 2],
}

impl Default for Buffers {
    fn default() -> Self {
        use wgpu::BufferUsages as U;
        let input = U::STORAGE | U::COPY_DST;
        Buffers {
            config: Slot::new("config", U::UNIFORM | U::COPY_DST),
            config_reversed: Slot::new("config_reversed", U::UNIFORM | U::COPY_DST),
            slices: Slot::new("slices", input),
            games: Slot::new("games", input),
            words: Slot::new("words", input),
            perms: Slot::new("perms", U::STORAGE | U::COPY_SRC),
            scratch: Slot::new("scratch", U::STORAGE),
            marginals: Slot::new("marginals", U::STORAGE | U::COPY_SRC),
            moments: Slot::new("moments", U::STORAGE | U::COPY_SRC),
            status: Slot::new("status", U::STORAGE | U::COPY_SRC | U::COPY_DST),
            staging: [
                Slot::new("staging", U::MAP_READ | U::COPY_DST),
                Slot::new("staging (second)", U::MAP_READ | U::COPY_DST),
            ],
        }
    }
}

/// Writes `data` at the start of `buffer` (applied at the next submit).
pub(super) fn upload<T: Pod>(
    queue: &wgpu::Queue,
    buffer: &wgpu::Buffer,
    data: &[T],
) -> Result<(), GpuError> {
    let bytes: &[u8] = bytemuck::cast_slice(data);
    if bytes.len() as u64 > buffer.size() {
        return Err(GpuError::Wgpu {
            during: "an upload",
            message: format!(
                "{} bytes do not fit a buffer of {}",
                bytes.len(),
                buffer.size()
            ),
        });
    }
    if !bytes.is_empty() {
        queue.write_buffer(buffer, 0, bytes);
    }
    Ok(())
}

/// Reads the first `len` elements of a mapped-read `staging` buffer once the submitted
/// work is done (submission `index` and those before it, or all of it): map, wait, copy
/// out, unmap.
pub(super) fn read_back<T: Pod>(
    device: &wgpu::Device,
    staging: &wgpu::Buffer,
    len: usize,
    index: Option<wgpu::SubmissionIndex>,
) -> Result<Vec<T>, GpuError> {
    let bytes = (len * size_of::<T>()) as u64;
    if bytes == 0 {
        return Ok(Vec::new());
    }
    let slice = staging.slice(0..bytes);
    let (tx, rx) = mpsc::channel();
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    device
        .poll(wgpu::PollType::Wait {
            submission_index: index,
            timeout: None,
        })
        .map_err(|e| GpuError::Readback(e.to_string()))?;
    rx.recv()
        .map_err(|e| GpuError::Readback(e.to_string()))?
        .map_err(|e| GpuError::Readback(e.to_string()))?;
    let out = {
        let view = slice
            .get_mapped_range()
            .map_err(|e| GpuError::Readback(e.to_string()))?;
        bytemuck::pod_collect_to_vec(&view)
    };
    staging.unmap();
    Ok(out)
}
