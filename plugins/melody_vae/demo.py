"""placeholder"""


def build_tab(plugin, models):
    import gradio as gr

    gr.Markdown("placeholder")
