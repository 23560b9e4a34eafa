"""Page stub."""

from planner.ui import page

settings = page.start("nav_sites")
