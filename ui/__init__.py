"""The chat UI (Gradio). Importing it first quiets the libraries it loads (no analytics, no
model-hub look-ups), because Gradio reads those switches when it is imported."""

from whyrec.tools.settings import quiet_libraries

quiet_libraries()
