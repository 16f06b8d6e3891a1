function love.conf(t)
  t.identity = "coze-npc-chat"
  t.version = "11.4"
  t.window.title = "Coze NPC chat"
  t.window.width = 1024
  t.window.height = 640
  t.window.vsync = 1
  t.modules.joystick = false
  t.modules.physics = false
  t.modules.video = false
end
