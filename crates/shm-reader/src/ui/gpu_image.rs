//! The shown image drawn by a render pipeline of our own inside egui's wgpu
//! render pass (an `egui_wgpu::Callback`), instead of egui's textured mesh.
//!
//! Why (docs/DESIGN.md, "The image through a pipeline of our own"): without a
//! GPU (Mesa's llvmpipe, as under Xvfb) every pixel a shader covers costs CPU
//! time. egui's shader, on the non-sRGB framebuffer egui-wgpu prefers,
//! samples its `Rgba8Unorm` texture, multiplies by the vertex colour, dithers,
//! and always blends with what is below (reading the framebuffer back). This
//! pipeline samples an `Rgba8Unorm` texture holding the image's stored bytes
//! and writes them out: no vertex colour, no dithering, and no blending when
//! the image is opaque (every alpha 255), which is what a video player does.
//! On an sRGB framebuffer (which egui-wgpu avoids) it uses an `Rgba8UnormSrgb`
//! texture, so the bytes reach the screen unchanged there too, filtered in
//! linear light where egui filters the stored values.
//!
//! The texture is written (`Queue::write_texture`) only when the image
//! changes: [`ImageCallback::generation`] says which image it is. Used only
//! where the image is entirely visible (the viewport is then the image's
//! rect); a zoomed image larger than its panel is drawn by egui.

use std::sync::Arc;

use eframe::egui;
use eframe::egui_wgpu;
use eframe::wgpu;

/// One draw of the shown image at the callback's rect.
pub(crate) struct ImageCallback {
    /// The pixels to draw (premultiplied sRGB bytes, as egui stores them).
    pub(crate) image: Arc<egui::ColorImage>,
    /// Which image this is: a new value uploads `image`, the same one draws
    /// the texture uploaded before.
    pub(crate) generation: u64,
    /// Every alpha is 255: drawn without blending.
    pub(crate) opaque: bool,
    /// The framebuffer's format (`egui_wgpu::RenderState::target_format`).
    pub(crate) target_format: wgpu::TextureFormat,
}

/// The pipelines and the texture, kept in egui-wgpu's callback resources.
struct Resources {
    target_format: wgpu::TextureFormat,
    opaque: wgpu::RenderPipeline,
    blended: wgpu::RenderPipeline,
    bind_group_layout: wgpu::BindGroupLayout,
    sampler: wgpu::Sampler,
    uploaded: Option<Uploaded>,
}

struct Uploaded {
    generation: u64,
    size: wgpu::Extent3d,
    texture: wgpu::Texture,
    bind_group: wgpu::BindGroup,
}

/// Four vertices (a triangle strip) covering the viewport, which egui-wgpu
/// sets to the callback's rect; the texture stretched over it.
const SHADER: &str = r"
struct VertexOutput {
    @builtin(position) position: vec4<f32>,
    @location(0) uv: vec2<f32>,
};

@vertex
fn vs_main(@builtin(vertex_index) index: u32) -> VertexOutput {
    let uv = vec2<f32>(f32(index & 1u), f32(index >> 1u));
    var out: VertexOutput;
    out.position = vec4<f32>(uv.x * 2.0 - 1.0, 1.0 - uv.y * 2.0, 0.0, 1.0);
    out.uv = uv;
    return out;
}

@group(0) @binding(0) var image_texture: texture_2d<f32>;
@group(0) @binding(1) var image_sampler: sampler;

@fragment
fn fs_main(in: VertexOutput) -> @location(0) vec4<f32> {
    return textureSample(image_texture, image_sampler, in.uv);
}
";

impl Resources {
    fn new(device: &wgpu::Device, target_format: wgpu::TextureFormat) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("shm-reader image"),
            source: wgpu::ShaderSource::Wgsl(SHADER.into()),
        });
        let bind_group_layout = bind_group_layout(device);
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("shm-reader image"),
            bind_group_layouts: &[Some(&bind_group_layout)],
            immediate_size: 0,
        });
        let pipeline = |blend| pipeline(device, &layout, &module, target_format, blend);
        Self {
            target_format,
            opaque: pipeline(None),
            // egui's images hold premultiplied alpha.
            blended: pipeline(Some(wgpu::BlendState::PREMULTIPLIED_ALPHA_BLENDING)),
            bind_group_layout,
            sampler: device.create_sampler(&wgpu::SamplerDescriptor {
                label: Some("shm-reader image"),
                mag_filter: wgpu::FilterMode::Linear,
                min_filter: wgpu::FilterMode::Linear,
                ..Default::default()
            }),
            uploaded: None,
        }
    }

    /// Writes `image` into the texture (made anew when its size changed); an
    /// image with no pixels leaves none. `image` is at most the device's
    /// largest texture side: the decoder keeps images within egui's
    /// `max_texture_side`, which eframe takes from the same device.
    fn upload(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        image: &egui::ColorImage,
        generation: u64,
    ) {
        let size = wgpu::Extent3d {
            width: image.size[0] as u32,
            height: image.size[1] as u32,
            depth_or_array_layers: 1,
        };
        if size.width == 0 || size.height == 0 {
            // No texture can be empty: nothing to draw.
            self.uploaded = None;
            return;
        }
        let uploaded = match self.uploaded.take() {
            Some(uploaded) if uploaded.size == size => uploaded,
            _ => self.new_texture(device, size),
        };
        queue.write_texture(
            wgpu::TexelCopyTextureInfo {
                texture: &uploaded.texture,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            image.as_raw(),
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(4 * size.width),
                rows_per_image: Some(size.height),
            },
            size,
        );
        self.uploaded = Some(Uploaded {
            generation,
            ..uploaded
        });
    }

    /// A texture of `size` and its bind group (generation 0: nothing in it).
    fn new_texture(&self, device: &wgpu::Device, size: wgpu::Extent3d) -> Uploaded {
        // The bytes reach the framebuffer as stored: decoded from sRGB only
        // where the framebuffer encodes to sRGB again.
        let format = if self.target_format.is_srgb() {
            wgpu::TextureFormat::Rgba8UnormSrgb
        } else {
            wgpu::TextureFormat::Rgba8Unorm
        };
        let texture = device.create_texture(&wgpu::TextureDescriptor {
            label: Some("shm-reader image"),
            size,
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format,
            usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
            view_formats: &[],
        });
        let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("shm-reader image"),
            layout: &self.bind_group_layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::TextureView(&view),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::Sampler(&self.sampler),
                },
            ],
        });
        Uploaded {
            generation: 0,
            size,
            texture,
            bind_group,
        }
    }
}

/// The texture (binding 0) and its sampler (binding 1), for the fragment shader.
fn bind_group_layout(device: &wgpu::Device) -> wgpu::BindGroupLayout {
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("shm-reader image"),
        entries: &[
            wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Texture {
                    sample_type: wgpu::TextureSampleType::Float { filterable: true },
                    view_dimension: wgpu::TextureViewDimension::D2,
                    multisampled: false,
                },
                count: None,
            },
            wgpu::BindGroupLayoutEntry {
                binding: 1,
                visibility: wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                count: None,
            },
        ],
    })
}

/// The pipeline drawing [`SHADER`]'s strip into `target_format`, blended with
/// `blend` (`None`: written over what is there).
fn pipeline(
    device: &wgpu::Device,
    layout: &wgpu::PipelineLayout,
    module: &wgpu::ShaderModule,
    target_format: wgpu::TextureFormat,
    blend: Option<wgpu::BlendState>,
) -> wgpu::RenderPipeline {
    device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
        label: Some("shm-reader image"),
        layout: Some(layout),
        vertex: wgpu::VertexState {
            module,
            entry_point: Some("vs_main"),
            buffers: &[],
            compilation_options: wgpu::PipelineCompilationOptions::default(),
        },
        primitive: wgpu::PrimitiveState {
            topology: wgpu::PrimitiveTopology::TriangleStrip,
            ..Default::default()
        },
        depth_stencil: None,
        // eframe's default: no multisampling (the reader asks for none).
        multisample: wgpu::MultisampleState::default(),
        fragment: Some(wgpu::FragmentState {
            module,
            entry_point: Some("fs_main"),
            targets: &[Some(wgpu::ColorTargetState {
                format: target_format,
                blend,
                write_mask: wgpu::ColorWrites::ALL,
            })],
            compilation_options: wgpu::PipelineCompilationOptions::default(),
        }),
        multiview_mask: None,
        cache: None,
    })
}

impl egui_wgpu::CallbackTrait for ImageCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen_descriptor: &egui_wgpu::ScreenDescriptor,
        _egui_encoder: &mut wgpu::CommandEncoder,
        callback_resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        let current = callback_resources
            .get::<Resources>()
            .is_some_and(|resources| resources.target_format == self.target_format);
        if !current {
            callback_resources.insert(Resources::new(device, self.target_format));
        }
        if let Some(resources) = callback_resources.get_mut::<Resources>()
            && resources
                .uploaded
                .as_ref()
                .is_none_or(|uploaded| uploaded.generation != self.generation)
        {
            resources.upload(device, queue, &self.image, self.generation);
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        render_pass: &mut wgpu::RenderPass<'static>,
        callback_resources: &egui_wgpu::CallbackResources,
    ) {
        let Some(resources) = callback_resources.get::<Resources>() else {
            return;
        };
        let Some(uploaded) = &resources.uploaded else {
            return;
        };
        render_pass.set_pipeline(if self.opaque {
            &resources.opaque
        } else {
            &resources.blended
        });
        render_pass.set_bind_group(0, &uploaded.bind_group, &[]);
        render_pass.draw(0..4, 0..1);
    }
}
